import Backends
import Foundation

/// Decode and prefill speed measured on this machine (by `feather bench`'s library).
public struct SpeedMeasurement: Codable, Sendable, Equatable {
    /// "this-machine" for the local engine, the URL for an endpoint.
    public var hardware: String
    public var threads: Int?
    /// Prompt tokens per repetition (llama-bench's pp) and generated tokens per repetition (tg).
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Per-repetition rates, tokens per second.
    public var prefillSamples: [Double]
    public var decodeSamples: [Double]
    /// What produced the numbers ("feather bench, schema 1").
    public var source: String
    /// Decode rates with the KV cache filled to a depth first (synthetic measurements: tg128 @ d4096, d16384).
    public var decodeAtDepth: [DepthSamples]?
    /// Load time (warm page cache: map, check, first forward pass), peak resident memory and the largest KV cache
    /// of the tests, when measured.
    public var loadSeconds: Double?
    public var peakResidentBytes: Int?
    public var kvCacheBytes: Int?

    public struct DepthSamples: Codable, Sendable, Equatable {
        public var depth: Int
        public var samples: [Double]
        public var kvCacheBytes: Int?
        public init(depth: Int, samples: [Double], kvCacheBytes: Int?) {
            self.depth = depth
            self.samples = samples
            self.kvCacheBytes = kvCacheBytes
        }
    }

    public init(hardware: String, threads: Int?, promptTokens: Int, generatedTokens: Int, prefillSamples: [Double],
                decodeSamples: [Double], source: String) {
        self.hardware = hardware
        self.threads = threads
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.prefillSamples = prefillSamples
        self.decodeSamples = decodeSamples
        self.source = source
    }

    public var prefillMean: Double { Significance.mean(prefillSamples) }
    public var decodeMean: Double { Significance.mean(decodeSamples) }
    public var prefillSD: Double { prefillSamples.count > 1 ? Significance.sampleStandardDeviation(prefillSamples) : 0 }
    public var decodeSD: Double { decodeSamples.count > 1 ? Significance.sampleStandardDeviation(decodeSamples) : 0 }
}

/// How the items of a task pair up for a significance test.
public enum PairedMetricKind: String, Codable, Sendable {
    /// Right or wrong per item: McNemar's exact test.
    case accuracy
    /// Σ value / Σ weight over items (bits per byte: bits / bytes): paired bootstrap.
    case ratio
    /// A score per item (judge score, pass rate): paired bootstrap of the mean.
    case score
}

/// One item's outcome, kept so two models can be paired item by item.
public struct ItemOutcome: Codable, Sendable, Equatable {
    public var id: String
    public var correct: Bool?
    /// Score, or the numerator of a ratio metric (bits for bits per byte).
    public var value: Double?
    /// Denominator of a ratio metric (bytes for bits per byte).
    public var weight: Double?

    public init(id: String, correct: Bool? = nil, value: Double? = nil, weight: Double? = nil) {
        self.id = id
        self.correct = correct
        self.value = value
        self.weight = weight
    }
}

/// One task's result for one model (by `feather eval`'s library), with its items.
public struct TaskMeasurement: Codable, Sendable, Equatable {
    public var task: String
    public var metric: String
    public var value: Double
    public var stderr: Double?
    public var n: Int
    public var higherIsBetter: Bool
    public var kind: PairedMetricKind
    public var items: [ItemOutcome]
    /// Settings that must agree for two results to be paired (shots, sample seed, limit).
    public var settings: String
    public var source: String

    public init(task: String, metric: String, value: Double, stderr: Double?, n: Int, higherIsBetter: Bool,
                kind: PairedMetricKind, items: [ItemOutcome], settings: String, source: String) {
        self.task = task
        self.metric = metric
        self.value = value
        self.stderr = stderr
        self.n = n
        self.higherIsBetter = higherIsBetter
        self.kind = kind
        self.items = items
        self.settings = settings
        self.source = source
    }
}

/// Everything `feather compare` knows about one model: facts (file or catalog), fit rows per hardware,
/// speed measured here, task results with per-item outcomes. Stable JSON, schema version 1.
public struct ModelResult: Codable, Sendable {
    public static let currentSchemaVersion = 1

    public var schemaVersion = ModelResult.currentSchemaVersion
    /// The name as given on the command line.
    public var label: String
    public var source: ModelSpec
    public var facts: ModelFacts?
    /// Present for GGUF files: what `feather inspect` reports.
    public var inspection: ModelInspection?
    /// One entry per quantization considered (the file's own for a GGUF).
    public var weights: [WeightsSummary]
    public var fit: [FitRow]
    public var speed: SpeedMeasurement?
    public var tasks: [TaskMeasurement]
    /// Measurements asked for but not made, with the reason ("needs weights or an endpoint").
    public var notMeasured: [String]
    /// Errors met while measuring (the comparison goes on without that row).
    public var errors: [String]
    /// A catalog model measured on a synthesized file (`--measure-synthetic`): the file, and its mark.
    public var syntheticFile: String?
    public var syntheticMark: SyntheticMark?
    /// KL divergence from the first model when this one is another quantization of it.
    public var klDivergence: KLDivergenceMeasurement?

    public init(label: String, source: ModelSpec, facts: ModelFacts?, inspection: ModelInspection? = nil,
                weights: [WeightsSummary] = [], fit: [FitRow] = [], speed: SpeedMeasurement? = nil,
                tasks: [TaskMeasurement] = [], notMeasured: [String] = [], errors: [String] = []) {
        self.label = label
        self.source = source
        self.facts = facts
        self.inspection = inspection
        self.weights = weights
        self.fit = fit
        self.speed = speed
        self.tasks = tasks
        self.notMeasured = notMeasured
        self.errors = errors
    }

    public var displayName: String { facts?.displayName ?? inspection?.name ?? label }

    /// The weights measured are random (a synthetic file, or a catalog model measured on one): speed and memory only.
    public var synthetic: SyntheticMark? { syntheticMark ?? inspection?.synthetic }

    /// Parameter count: the file's tensors, else the publisher's (vision encoder included).
    public var parameters: Int? { inspection?.parameterCount ?? facts?.publishedParameters }
}
