import Foundation

/// What one `feather bench` run measured: the JSON file every run writes, read by `feather compare`
/// and the reports. Keys are camelCase; a value that was not measured is left out.
///
/// Schema version 1:
/// - `kind`: "local" (models run in this process) or "serving" (a load test of HTTP endpoints).
/// - `host`: the machine (CPU model, cores, memory, ISA the kernels used, OS).
/// - `models`: for "local", one entry per model file with its identity, load times, and one
///   `tests` entry per (test, threads, depth) combination, samples included.
/// - `serving`: for "serving", one `runs` entry per concurrency / rate combination.
/// - `interrupted`: true when Ctrl-C stopped the run; what was measured before is kept.
public struct BenchResult: Codable, Sendable {
    public static let currentSchemaVersion = 1

    public var schemaVersion = BenchResult.currentSchemaVersion
    public var kind: Kind
    /// ISO 8601, UTC.
    public var createdAt: String
    public var host: HostInfo
    public var models: [ModelBench]?
    public var serving: ServingBench?
    public var interrupted = false
    /// The command line, for reruns.
    public var command: [String]

    public enum Kind: String, Codable, Sendable { case local, serving }

    public init(kind: Kind, host: HostInfo, command: [String], createdAt: Date = Date()) {
        self.kind = kind
        self.host = host
        self.command = command
        self.createdAt = UTCTime.iso8601(createdAt)
    }
}

public struct HostInfo: Codable, Sendable {
    public var cpuModel: String?
    public var logicalCPUs: Int
    public var physicalCores: Int
    public var memoryBytes: Int?
    /// Kernel instruction set in use (scalar, avx2, avx512, neon) and the CPU flags it relies on.
    public var isa: String
    public var cpuFeatures: [String]
    public var os: String
}

/// Identity of a model file: enough to tell two runs of the same file apart from two files.
public struct ModelIdentity: Codable, Sendable, Equatable {
    public var path: String
    public var fileName: String
    public var fileSize: Int
    /// GGUF `general.name`, architecture, `general.size_label`, file type (dominant quantization).
    public var name: String?
    public var architecture: String?
    public var sizeLabel: String?
    public var parameterCount: Int
    public var fileType: String?
    /// Weight bytes one decode step reads: every tensor, except that a token embedding separate from the
    /// output matrix contributes one row. Divided into the memory bandwidth, the decode speed limit.
    public var weightBytesPerToken: Int?
    /// Set for a file of random weights (`feather synthesize`): its rows are speed and memory only.
    public var synthetic: SyntheticMark?
}

/// Time to load a model: `loadSeconds` until the model is ready (file mapped, tensors checked;
/// weights are paged in lazily), `firstForwardSeconds` for the first one-token forward pass after
/// that (it touches every weight, so it carries the page-cache misses of a cold start).
public struct LoadTiming: Codable, Sendable {
    public var loadSeconds: Double
    public var firstForwardSeconds: Double
    /// Share of the file's pages in the page cache just before loading (mincore), 0...1.
    public var residentFractionBefore: Double?
}

public struct LoadTimes: Codable, Sendable {
    /// After `posix_fadvise(POSIX_FADV_DONTNEED)` on the file; the kernel keeps pages that other
    /// processes map, so `residentFractionBefore` says how cold it really was.
    public var cold: LoadTiming?
    public var coldNote: String?
    /// The file already in the page cache (second load in this process).
    public var warm: LoadTiming
}

public struct ModelBench: Codable, Sendable {
    public var model: ModelIdentity
    public var load: LoadTimes?
    public var tests: [BenchTest]
    /// Peak resident memory of this process over this model's load and tests (VmHWM, reset per
    /// model through /proc/self/clear_refs when the kernel allows).
    public var peakResidentBytes: Int?
}

/// One row of the llama-bench-style table.
public struct BenchTest: Codable, Sendable {
    /// llama-bench's name: "pp512", "tg128", "pp512+tg128", with " @ d4096" for a depth.
    public var name: String
    public var nPrompt: Int
    public var nGen: Int
    public var depth: Int
    public var threads: Int
    public var isa: String
    public var cacheType: String
    /// Context the sequence was made with: nPrompt + nGen + depth (llama-bench's n_ctx).
    public var contextLength: Int
    /// KV-cache bytes allocated for that context (sliding-window layers hold window + one chunk).
    public var kvCacheBytes: Int
    /// Seconds of each timed repetition, and (nPrompt + nGen) / seconds.
    public var samplesSeconds: [Double]
    public var samplesTokensPerSecond: [Double]
    /// Mean of the per-repetition rates, and their sample standard deviation (llama-bench's avg_ts, stddev_ts).
    public var meanTokensPerSecond: Double
    public var sdTokensPerSecond: Double
    /// Peak resident memory over this test (VmHWM reset before it), when the kernel allows the reset.
    public var peakResidentBytes: Int?
    public var llamaCpp: LlamaCppComparison?

    public var tokens: Int { nPrompt + nGen }
}

/// llama-bench's result for the same test, run right after ours.
public struct LlamaCppComparison: Codable, Sendable {
    public var buildCommit: String?
    public var samplesTokensPerSecond: [Double]
    public var meanTokensPerSecond: Double
    public var sdTokensPerSecond: Double
    /// Peak resident memory of the llama-bench process (getrusage ru_maxrss) for this one test.
    public var peakResidentBytes: Int?
    /// Featherweight's mean tokens/s over llama.cpp's.
    public var ratio: Double
    /// "llama.cpp" or "ik_llama.cpp" (nil in results written before ik was compared).
    public var implementation: String?
    /// The extra llama-bench arguments it ran with (`--vs-llama-cpp-args`), nil when none.
    public var extraArguments: [String]?
}
