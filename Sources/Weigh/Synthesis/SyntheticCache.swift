import Foundation
import Models

/// Synthetic models kept under the models folder (`<models>/synthetic/`), named by catalog id, recipe, layers, seed
/// and configuration hash: `feather bench CATALOG_ID` and `feather compare ... --measure-synthetic` write one once
/// and reuse it.
public struct SyntheticCache: Sendable {
    public var directory: String
    public var sources: ModelSynthesizer.Sources

    public init(modelsDirectory: String? = nil, sources: ModelSynthesizer.Sources = .init()) {
        let models = modelsDirectory ?? sources.locator.directory
        directory = (models as NSString).appendingPathComponent("synthetic")
        self.sources = sources
    }

    /// Refuses a model that cannot fit this machine's memory at `context` tokens (fit's figure: weights, KV cache,
    /// compute buffer and runtime allowance, against physical memory).
    public static func checkFits(_ s: ModelSynthesizer, context: Int, physicalMemory: Int = Int(ProcessInfo.processInfo.physicalMemory))
        throws(SynthesisError) {
        let f = s.facts
        let n = min(max(context, 1), f.contextLength)
        let needed = s.tensorBytes + f.kvCacheBytes(tokens: n) + FitCalculator.computeBufferBytes(f, context: n)
            + HardwareCatalog.cpuRuntimeOverhead
        if needed > physicalMemory {
            throw .doesNotFit(model: "\(s.published.id) (\(s.recipe.displayName)\(s.isTruncated ? ", \(f.layers) blocks" : ""), \(n) tokens)",
                              needed: needed, usable: physicalMemory)
        }
    }

    /// The cached file for this synthesis, written first when missing. `progress` gets one line now and then.
    public func file(for s: ModelSynthesizer, progress: (String) -> Void) throws -> String {
        var s = s
        s.sources = sources
        let path = (directory as NSString).appendingPathComponent(s.cacheName)
        if FileManager.default.fileExists(atPath: path) {
            progress("synthetic \(s.published.id): cached \(path)")
            return path
        }
        progress("synthetic \(s.published.id): writing \(path) (\(Format.bytes(s.tensorBytes)) of random weights, \(s.recipe.displayName))")
        var lastPercent = -1
        try s.write(to: path, progress: { p in
            let percent = p.totalBytes > 0 ? 100 * p.bytesWritten / p.totalBytes : 100
            if percent / 10 != lastPercent / 10 {
                lastPercent = percent
                progress("  \(percent)% of \(Format.bytes(p.totalBytes))")
            }
        })
        return path
    }
}
