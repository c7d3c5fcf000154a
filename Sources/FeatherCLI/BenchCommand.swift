import ArgumentParser
import Compute
import Foundation
import GGUF

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks. --kernels: matrix-vector GB/s and matrix-matrix GFLOP/s per weight type.",
        discussion: """
            --kernels prints, per weight type, the matrix-vector throughput in GB/s of weights read \
            (a ~256 MiB matrix, 8 times this machine's L3) and the matrix-matrix GFLOP/s (1024 rows × 64 activation \
            rows), with 1 and all threads, next to a memory-read bandwidth probe on the same machine.
            """)

    @Flag(help: "Benchmark the numeric kernels.") var kernels = false
    @Option(help: "Instruction set: scalar, avx2, avx512, neon (default: FEATHER_ISA, else the best this CPU has).")
    var isa: String?
    @Option(help: "Comma-separated ggml weight types (default: every supported type).") var types: String?
    @Option(name: .shortAndLong, help: "Comma-separated thread counts (default: 1 and the physical cores).") var threads: String?
    @Flag(help: "Print JSON results instead of lines.") var json = false

    func run() async throws {
        guard kernels else {
            throw ValidationError("model benchmarks are not built yet; use --kernels")
        }
        let isa = try ISA.select(self.isa)
        var selected = KernelBenchmark.defaultTypes
        if let types {
            selected = try types.split(separator: ",").map { name in
                guard let t = GGMLType.allCases.first(where: { $0.name == name }), t.isSupported else {
                    throw ValidationError("unknown or unsupported type '\(name)'")
                }
                return t
            }
        }
        let threadCounts = try threads.map {
            try $0.split(separator: ",").map { s in
                guard let n = Int(s), n > 0 else { throw ValidationError("bad thread count '\(s)'") }
                return n
            }
        } ?? Array(Set([1, ThreadPool.physicalCores])).sorted()
        if !json { print("isa \(isa.rawValue), physical cores \(ThreadPool.physicalCores)") }
        let results = try KernelBenchmark.run(types: selected, threads: threadCounts, isa: isa,
                                              report: json ? { _ in } : { print($0) })
        if json { print(try JSONOutput.string(results)) }
    }
}
