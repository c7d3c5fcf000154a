import ArgumentParser
import Foundation
import GGUF
import Models
import Weigh

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is in model files: architecture, size, quantization, context, KV cache.",
        discussion: "Several models are shown side by side. --json prints one object per model (schemaVersion 1) in an array when several are given.")
    @Argument(help: "A .gguf path or a model short name (see `feather models`).") var models: [String]
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let inspections = try models.map { try ModelInspection(file: GGUFFile(path: resolveModelPath($0))) }
        if json {
            print(try JSONOutput.string(inspections.count == 1 ? AnyEncodable(inspections[0]) : AnyEncodable(inspections)))
        } else {
            print(InspectionReport.table(inspections))
        }
    }
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the models found locally, with their short names.")
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let locator = ModelLocator()
        let found = locator.localModels()
        if json {
            let rows = found.map { ["name": $0.shortName, "path": $0.path] }
            print(try JSONOutput.string(AnyEncodable(rows)))
            return
        }
        if found.isEmpty {
            print("no models in \(locator.directory)/ (run scripts/fetch-models.sh, or set FEATHER_MODELS)")
            return
        }
        let width = found.map(\.shortName.count).max() ?? 0
        for m in found {
            let size = (try? FileManager.default.attributesOfItem(atPath: m.path)[.size] as? Int).flatMap { $0 }
            let known = ModelLocator.embedded.first { $0.shortName == m.shortName }?.description ?? ""
            print([m.shortName.padding(toLength: width, withPad: " ", startingAt: 0), Format.bytes(size ?? 0), m.path, known]
                .filter { !$0.isEmpty }.joined(separator: "  "))
        }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

enum JSONOutput {
    static func string(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
