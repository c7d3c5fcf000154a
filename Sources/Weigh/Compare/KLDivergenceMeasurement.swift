import Backends
import Engine
import Foundation
import GGUF

/// How far model B's next-token distributions are from model A's on the Wikipedia sample, when B is
/// another quantization of A: llama-perplexity's KL-divergence statistics, A's base written and B scored.
public struct KLDivergenceMeasurement: Codable, Sendable, Equatable {
    /// The label of the reference model (A).
    public var reference: String
    public var meanKLD: Estimate
    public var kld99: Double
    public var sameTop: Estimate
    public var pplRatio: Estimate
    public var positions: Int
    /// Text, context and chunks.
    public var settings: String

    public init(reference: String, statistics s: KLDivergenceStatistics, settings: String) {
        self.reference = reference
        meanKLD = s.kld
        kld99 = s.kldPercentiles.first { $0.label == "99.0%" }?.value ?? .nan
        sameTop = s.sameTop
        pplRatio = s.pplRatio
        positions = s.sums.count
        self.settings = settings
    }

    /// Why `a` and `b` cannot be weighed by KL divergence (nil when they can): both files, one architecture,
    /// the same vocabulary token for token.
    public static func incompatibility(_ a: ModelResult, _ b: ModelResult) -> String? {
        guard case .file(let pathA) = a.source, case .file(let pathB) = b.source else { return "needs both models as GGUF files" }
        guard let fa = try? GGUFFile(path: pathA), let fb = try? GGUFFile(path: pathB) else { return "a file cannot be read" }
        guard fa.architecture == fb.architecture else {
            return "another architecture (\(fa.architecture ?? "?") vs \(fb.architecture ?? "?")): not a quantization of the same model"
        }
        guard let ta = fa.array("tokenizer.ggml.tokens")?.strings, let tb = fb.array("tokenizer.ggml.tokens")?.strings, ta == tb else {
            return "another vocabulary: not a quantization of the same model"
        }
        return nil
    }

    /// Writes `reference`'s base on the first `chunks` chunks of `contextLength` of `textPath` into a temporary
    /// file, scores `model` against it and removes the file.
    public static func measure(model: String, reference: (label: String, path: String), textPath: String, contextLength: Int, chunks: Int,
                               threads: Int, progress: @escaping @Sendable (String) -> Void) throws -> KLDivergenceMeasurement {
        guard let data = FileManager.default.contents(atPath: textPath), let text = String(data: data, encoding: .utf8) else {
            throw CompareError.measurement("KL divergence: \(textPath) not found; run scripts/fetch-data.sh")
        }
        let basePath = FileManager.default.temporaryDirectory.appendingPathComponent("feather-compare-\(UUID().uuidString).kld").path
        defer { try? FileManager.default.removeItem(atPath: basePath) }
        let options = LocalModelOptions(threads: threads, contextLength: contextLength)
        progress("  KL divergence: base of \(reference.label), \(chunks) chunks of \(contextLength)")
        _ = try BackendFactory.engine(path: reference.path, options: options)
            .perplexity(text: text, contextLength: contextLength, maxChunks: chunks, basePath: basePath)
        let result = try BackendFactory.engine(path: model, options: options).klDivergence(base: KLDivergenceBase(path: basePath)) { row in
            progress("  KL divergence: chunk \(row.chunk)/\(chunks), mean \(String(format: "%.5f", row.kld.value))")
        }
        let settings = "\((textPath as NSString).lastPathComponent), \(result.statistics.chunks) chunks of \(contextLength) tokens"
        return KLDivergenceMeasurement(reference: reference.label, statistics: result.statistics, settings: settings)
    }
}
