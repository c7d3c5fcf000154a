import Foundation

/// One comparison, the single source of every report (terminal, Markdown, JSON, HTML). Schema version 1.
public struct ComparisonResult: Codable, Sendable {
    public static let currentSchemaVersion = 1

    public var schemaVersion = ComparisonResult.currentSchemaVersion
    /// ISO 8601, UTC.
    public var createdAt: String
    public var command: [String]
    public var settings: CompareSettings
    /// Models in the order given; rows refer to them by index, reports letter them A, B, C...
    public var models: [ModelResult]
    public var hardware: [Hardware]
    public var sections: [Section]
    public var verdicts: [Verdict]
    /// Memory against context per model (for the chart), at the compared quantization.
    public var memoryCurves: [MemoryCurve]
    public var notes: [String]

    public init(createdAt: Date = Date(), command: [String], settings: CompareSettings, models: [ModelResult], hardware: [Hardware],
                sections: [Section], verdicts: [Verdict], memoryCurves: [MemoryCurve], notes: [String]) {
        self.createdAt = UTCTime.iso8601(createdAt)
        self.command = command
        self.settings = settings
        self.models = models
        self.hardware = hardware
        self.sections = sections
        self.verdicts = verdicts
        self.memoryCurves = memoryCurves
        self.notes = notes
    }

    public static func letter(_ i: Int) -> String { String(UnicodeScalar(UInt8(65 + i % 26))) }
}

public struct CompareSettings: Codable, Sendable, Equatable {
    /// "quick" or "full".
    public var workload: String
    public var tasks: [String]
    public var contextLength: Int
    public var kvType: KVCacheElement
    /// Quantization assumed for catalog models (files use their own).
    public var quant: String
    /// Significance level for "A" / "B" verdicts.
    public var alpha: Double
    public var details: [String: String]

    public init(workload: String, tasks: [String], contextLength: Int, kvType: KVCacheElement, quant: String,
                alpha: Double = 0.05, details: [String: String] = [:]) {
        self.workload = workload
        self.tasks = tasks
        self.contextLength = contextLength
        self.kvType = kvType
        self.quant = quant
        self.alpha = alpha
        self.details = details
    }
}

public struct Section: Codable, Sendable {
    public var title: String
    public var rows: [Row]
}

/// What kind of evidence a row carries.
public enum RowKind: String, Codable, Sendable {
    /// Published or read from the file (parameters, licence).
    case fact
    /// Computed from facts, no sampling noise (memory, speed of light).
    case derived
    /// Measured here, with uncertainty (speed, benchmark scores).
    case measured
}

public struct Cell: Codable, Sendable, Equatable {
    public var text: String
    public var value: Double?
    /// Standard error (scores) or standard deviation (speed repetitions), in the value's unit.
    public var uncertainty: Double?
    /// Why there is no value ("needs weights or an endpoint").
    public var missing: String?

    public init(text: String, value: Double? = nil, uncertainty: Double? = nil, missing: String? = nil) {
        self.text = text
        self.value = value
        self.uncertainty = uncertainty
        self.missing = missing
    }

    public static func missing(_ why: String) -> Cell { Cell(text: "—", missing: why) }
}

/// The outcome of comparing two models on one row.
public struct PairOutcome: Codable, Sendable, Equatable {
    public var a: Int
    public var b: Int
    /// Index of the better model, nil when there is no significant difference (or none to find).
    public var winner: Int?
    public var pValue: Double?
    /// "McNemar exact", "paired bootstrap", "Welch t-test", "derived".
    public var method: String
    public var detail: String
    /// The smallest true difference the test detects with 80% power at α over these items, in the row's units
    /// (accuracy as a fraction); +∞ when the test cannot reach α at this n. Nil for rows without sampling noise.
    public var detectable: Double?
    /// `detectable` as the report prints it ("6.3 points", "0.0123 bits/byte", "not reachable with 4 items").
    public var resolution: String?
}

public struct Row: Codable, Sendable {
    public var id: String
    public var label: String
    public var kind: RowKind
    public var cells: [Cell]
    public var outcomes: [PairOutcome]
    /// Whether a larger value is better (nil: not comparable, like a licence).
    public var higherIsBetter: Bool?
    public var unit: String?
    /// How a verdict cites the row ("rtx-4090", "mmlu"); the label when nil.
    public var short: String?

    public init(id: String, label: String, kind: RowKind, cells: [Cell], outcomes: [PairOutcome] = [],
                higherIsBetter: Bool? = nil, unit: String? = nil, short: String? = nil) {
        self.id = id
        self.label = label
        self.kind = kind
        self.cells = cells
        self.outcomes = outcomes
        self.higherIsBetter = higherIsBetter
        self.unit = unit
        self.short = short
    }
}

/// The closing call for one use (quality, speed, memory), drawn only from rows with a significant
/// (measured) or exact (derived) difference.
public struct Verdict: Codable, Sendable, Equatable {
    public var use: String
    public var winner: Int?
    public var text: String
    /// Row ids the verdict rests on.
    public var basis: [String]
}

public struct MemoryCurve: Codable, Sendable, Equatable {
    public var model: Int
    public var quant: String
    /// (context tokens, total bytes on a GPU with CUDA overhead) points.
    public var points: [Point]

    public struct Point: Codable, Sendable, Equatable {
        public var context: Int
        public var bytes: Int
    }
}
