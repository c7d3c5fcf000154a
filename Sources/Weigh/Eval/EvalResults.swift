import Backends
import Foundation

/// One scored item, as written to `samples_TASK.jsonl` and the resume cache. `compare` pairs
/// items of two runs by `id`.
public struct ItemResult: Codable, Sendable, Equatable {
    public var id: String
    /// The item's group (MMLU subject, MT-Bench category), if the task has groups.
    public var group: String?
    /// The prompt sent (the last turn's for MT-Bench).
    public var prompt: String
    /// Continuations scored (multiple choice).
    public var choices: [String]?
    /// Summed log-likelihood of each choice (nats).
    public var logprobs: [Double]?
    public var isGreedy: [Bool]?
    /// Generated text (one per turn for MT-Bench).
    public var outputs: [String]?
    /// The gold answer: a choice index or the reference answer text.
    public var target: String
    /// Extracted answer per extractor (or the predicted choice index).
    public var extracted: [String: String]
    /// Per-item metric values: 1/0 for acc and exact_match, judge scores, sums for rolling tasks.
    public var metrics: [String: Double]
    /// Whether the item counts as answered correctly under the task's main metric.
    public var correct: Bool?
    /// Free-form detail: judge verdicts, execution outcome.
    public var details: [String: String]?

    public init(id: String, group: String? = nil, prompt: String, choices: [String]? = nil, logprobs: [Double]? = nil,
                isGreedy: [Bool]? = nil, outputs: [String]? = nil, target: String, extracted: [String: String] = [:],
                metrics: [String: Double], correct: Bool? = nil, details: [String: String]? = nil) {
        self.id = id
        self.group = group
        self.prompt = prompt
        self.choices = choices
        self.logprobs = logprobs
        self.isGreedy = isGreedy
        self.outputs = outputs
        self.target = target
        self.extracted = extracted
        self.metrics = metrics
        self.correct = correct
        self.details = details
    }
}

/// One aggregated metric.
public struct MetricValue: Codable, Sendable, Equatable {
    public var name: String
    public var value: Double
    /// Standard error: sample stderr of the mean, or bootstrap where there is no closed form.
    public var stderr: Double?
    /// "mean" or "bootstrap".
    public var stderrMethod: String?
    public var n: Int
    public var higherIsBetter: Bool
}

public struct GroupResult: Codable, Sendable, Equatable {
    public var name: String
    public var metrics: [MetricValue]
}

public struct TaskResult: Codable, Sendable, Equatable {
    public var task: String
    public var version: Int
    public var kind: String
    /// SHA-256 of the task definition file.
    public var definitionHash: String
    public var dataFile: String
    /// Items in the data file and items scored.
    public var itemsAvailable: Int
    public var n: Int
    public var shots: Int
    /// The main metric (shown first).
    public var primaryMetric: String
    public var metrics: [MetricValue]
    public var groups: [GroupResult]?
    public var samplesFile: String
    /// Items taken from the cache rather than computed in this run.
    public var cachedItems: Int
    public var wallSeconds: Double
    /// Summed compute time of the scored items, including items computed by earlier runs of a resumed
    /// eval (from the cache); items run concurrently overlap in it. `timedItems` have a recorded time.
    public var itemSeconds: Double?
    public var timedItems: Int?
}

public struct EvalSettings: Codable, Sendable, Equatable {
    public var tasks: [String]
    public var limit: Int?
    public var sample: Int?
    public var seed: UInt64
    public var shots: Int?
    public var chat: Bool
    public var concurrency: Int
    public var judge: String?
    /// Only these item ids (lm-eval's --samples), in file order.
    public var items: [String]?

    public init(tasks: [String], limit: Int? = nil, sample: Int? = nil, seed: UInt64 = 1234, shots: Int? = nil,
                chat: Bool = false, concurrency: Int = 1, judge: String? = nil, items: [String]? = nil) {
        self.items = items
        self.tasks = tasks
        self.limit = limit
        self.sample = sample
        self.seed = seed
        self.shots = shots
        self.chat = chat
        self.concurrency = concurrency
        self.judge = judge
    }
}

/// `results.json`.
public struct EvalReport: Codable, Sendable {
    public static let currentSchemaVersion = 1
    public var schemaVersion: Int
    public var tool: String
    public var toolVersion: String
    public var createdAt: String
    public var model: BackendIdentity
    public var settings: EvalSettings
    public var tasks: [TaskResult]
    public var host: [String: String]
}

public enum EvalVersion {
    public static let tool = "feather"
    public static let version = "0.1.0"
}
