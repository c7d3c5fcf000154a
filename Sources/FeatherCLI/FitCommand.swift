import ArgumentParser
import Foundation
import Weigh

struct Fit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Will a model fit a GPU or Mac, at what context, and how fast can it decode there at best?",
        discussion: """
            MODEL is a .gguf file or short name (its own tensor sizes are used) or a catalog id of a published \
            configuration (\(ModelCatalog.ids.joined(separator: ", "))). Hardware: \(HardwareCatalog.ids.joined(separator: ", ")).
            """)

    @Argument(help: "Models: .gguf paths, short names, or catalog ids.") var models: [String]
    @Option(help: "Comma-separated hardware ids.") var hardware = "rtx-4090,rtx-3090,rtx-4060-ti-16gb,l4,a100-40gb,a100-80gb,h100-80gb,mac-16gb,mac-32gb,mac-64gb,mac-128gb"
    @Option(help: "Quantizations for catalog models: q4_k_m, q8_0, q4_0, f16 (a GGUF file uses its own).") var quant = "q4_k_m,q8_0,f16"
    @Option(help: "Context length in tokens.") var ctx = 8192
    @Option(help: "KV cache element type: f16 or q8_0.") var kvType = "f16"
    @Option(name: .shortAndLong, help: "Threads for the this-machine bandwidth probe (default: physical cores).") var threads: Int?
    @Flag(help: "Print JSON (one object per model: facts, weights, fit rows, hardware).") var json = false

    func run() async throws {
        guard ctx > 0 else { throw ValidationError("--ctx must be positive") }
        let options = try FitOptions.parse(hardware: hardware, quant: quant, kvType: kvType, threads: threads)
        let resolver = ModelResolver()
        var results: [ModelResult] = []
        for name in models {
            var m = try resolver.describe(name, quants: options.quants)
            m.fit = ModelResolver.fitRows(m, hardware: options.hardware, context: ctx, kv: options.kv)
            results.append(m)
        }
        if json {
            struct Output: Encodable { let hardware: [Hardware]; let models: [ModelResult] }
            print(try JSONOutput.string(Output(hardware: options.hardware, models: results)))
            return
        }
        for m in results {
            print(FitReport.render(model: m, rows: m.fit, hardware: options.hardware, context: ctx, kv: options.kv))
            print()
        }
        print("hardware:")
        FitReport.hardwareLines(options.hardware).forEach { print($0) }
        print("\nhow these are computed:")
        FitReport.formulas.forEach { print("  " + $0) }
    }
}

/// Hardware, quantization and KV options shared by fit and compare.
struct FitOptions {
    var hardware: [Hardware]
    var quants: [QuantRecipe]
    var kv: KVCacheElement

    static func parse(hardware: String, quant: String, kvType: String, threads: Int?) throws -> FitOptions {
        let quants = try quant.split(separator: ",").map { q in
            guard let r = QuantRecipe.parse(String(q)) else {
                throw ValidationError("unknown quantization '\(q)' (known: \(QuantRecipe.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return r
        }
        guard let kv = KVCacheElement(rawValue: kvType.lowercased()) else {
            throw ValidationError("unknown --kv-type '\(kvType)' (f16 or q8_0)")
        }
        let list = try HardwareCatalog.resolve(hardware) { try thisMachine(threads: threads) }
        return FitOptions(hardware: list, quants: quants.isEmpty ? [.q4_k_m] : quants, kv: kv)
    }

    static func thisMachine(threads: Int?) throws -> Hardware {
        try CommonOptions.checkThreads(threads, option: "--threads")
        let n = CommonOptions.threads(threads)
        FileHandle.standardError.write(Data("measuring this machine's memory bandwidth (\(n) threads)...\n".utf8))
        return try HardwareCatalog.thisMachine(threads: n)
    }
}
