import Compute
import Engine
import GGUF

/// A name given on the command line that Weigh does not know (a weight type, an architecture).
public struct UnknownName: Error, CustomStringConvertible, Equatable {
    public let description: String

    static func type(_ name: String) -> UnknownName { UnknownName(description: "unknown or unsupported type '\(name)'") }
    static func architecture(_ name: String) -> UnknownName {
        UnknownName(description: "unknown architecture '\(name)' (llama, mistral3, gemma3)")
    }
}

/// `feather bench --kernels`: Compute's kernel throughput for weight types and an instruction set given by name.
public struct KernelBench {
    let isa: ISA
    let types: [GGMLType]

    /// `isaName` nil: FEATHER_ISA, else the best this CPU has; `typeNames` nil: every supported type.
    /// Throws Compute's error for an ISA this CPU lacks, `UnknownName` for a type it does not know.
    public init(isaName: String?, typeNames: [String]?) throws {
        isa = try ISA.select(isaName)
        types = try typeNames.map { names in
            try names.map { name in
                guard let type = GGMLType.allCases.first(where: { $0.name == name }), type.isSupported else {
                    throw UnknownName.type(name)
                }
                return type
            }
        } ?? KernelBenchmark.defaultTypes
    }

    public var isaName: String { isa.rawValue }

    /// This machine's physical cores (the engine's thread count when none is asked for).
    public static var physicalCores: Int { Engine.defaultThreads }

    /// Thread counts when none are given: one thread and all of them.
    public static var defaultThreads: [Int] { Array(Set([1, physicalCores])).sorted() }

    /// Runs every kernel at each thread count; `report` gets one line per result as it finishes.
    public func run(threads: [Int], report: (String) -> Void) throws -> KernelBenchResults {
        KernelBenchResults(results: try KernelBenchmark.run(types: types, threads: threads, isa: isa, report: report))
    }
}

/// The measurements of a kernel benchmark; they encode as a JSON array, one object per kernel, type and thread count.
public struct KernelBenchResults: Sendable, Encodable {
    let results: [KernelBenchmark.Result]

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(results)
    }
}
