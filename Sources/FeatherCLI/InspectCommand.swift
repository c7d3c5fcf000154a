import ArgumentParser
import Backends
import Foundation
import ModelStores
import Weigh

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is in model files: architecture, size, quantization, context, KV cache.",
        discussion: "Several models are shown side by side. --json prints one object per model (schemaVersion 1) in an array when several are given.")
    @Argument(help: "A .gguf path or a model short name (see `feather models`).") var models: [String]
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let inspections = try models.map { try ModelInspection(path: resolveModelPath($0)) }
        if json {
            print(try JSONOutput.string(inspections.count == 1 ? AnyEncodable(inspections[0]) : AnyEncodable(inspections)))
        } else {
            print(InspectionReport.table(inspections))
        }
    }
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models found locally, with the names commands accept and where each lives.",
        discussion: "Looks in the models folder ($FEATHER_MODELS, else .models/), the Hugging Face cache ($HF_HOME/hub), "
            + "Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models) and LM Studio's models folder.")
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let locator = ModelSpecResolver()
        let found = locator.allModels()
        if json {
            let rows = found.map { m in
                ModelRow(name: m.name, aliases: m.aliases, path: m.path, store: m.kind.rawValue, storePath: m.store, parts: m.parts,
                         mmproj: m.projector, size: Self.size(m.path))
            }
            print(try JSONOutput.string(rows))
            return
        }
        if found.isEmpty {
            print("no models in \(locator.directory)/ or the Hugging Face, Ollama and LM Studio stores "
                + "(run scripts/fetch-models.sh or feather pull OWNER/REPO:QUANT, or set FEATHER_MODELS)")
            return
        }
        let width = found.map(\.name.count).max() ?? 0
        let kindWidth = found.map(\.kind.rawValue.count).max() ?? 0
        for m in found {
            let known = m.kind == .modelsFolder ? ModelSpecResolver.embeddedDescription(m.name) ?? "" : ""
            let split = m.parts > 1 ? "split in \(m.parts) files" : ""
            print([m.name.padding(toLength: width, withPad: " ", startingAt: 0), Format.bytes(Self.size(m.path)),
                   m.kind.rawValue.padding(toLength: kindWidth, withPad: " ", startingAt: 0), m.path, split, known]
                .filter { !$0.isEmpty }.joined(separator: "  "))
        }
    }

    struct ModelRow: Encodable {
        var name: String
        var aliases: [String]
        var path: String
        var store: String
        var storePath: String
        var parts: Int
        var mmproj: String?
        var size: Int
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path)[.size]) as? Int) ?? 0
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
