import CKernels
import Foundation
import GGUF

/// Kernel throughput on this machine: matvec GB/s of weights streamed, matmul GFLOP/s, and a
/// memory-read probe, each for several thread counts. For `feather bench --kernels`.
public enum KernelBenchmark {
    public struct Result: Sendable, Codable {
        public let kernel: String       // "matvec", "matmul", "memory-read"
        public let type: String         // weight type, or "f32" for the probe
        public let threads: Int
        public let isa: String
        public let seconds: Double      // best of the repetitions
        public let gigabytesPerSecond: Double
        public let gigaflopsPerSecond: Double
    }

    public static let defaultTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Runs every benchmark; `report` gets one line per result as it finishes.
    /// Matvec uses a weight matrix of about `matvecMiB` (beyond the caches: memory bound);
    /// matmul multiplies a 1024×`cols` matrix by `batch` activation rows.
    public static func run(types: [GGMLType] = defaultTypes, threads: [Int] = [1, 2], isa: ISA = .preferred,
                           cols: Int = 2048, matvecMiB: Int = 256, batch: Int = 64,
                           report: (String) -> Void = { print($0) }) throws -> [Result] {
        var results: [Result] = []
        let pools = try threads.map { try ThreadPool(threads: $0) }
        results += memoryProbe(pools: pools, isa: isa, report: report)
        results += dispatchProbe(pools: pools, isa: isa, report: report)
        for type in types {
            guard let rowBytes = Compute.rowBytes(type, count: cols) else { continue }
            let rows = max(16, matvecMiB << 20 / rowBytes)
            let weights = UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
            defer { weights.deallocate() }
            fillWeights(weights, type: type, rows: rows, rowBytes: rowBytes)
            let m = try QuantizedMatrix(type: type, rows: rows, cols: cols, data: weights)
            let x = (0..<(cols * batch)).map { Float(sin(Double($0) * 0.37)) }
            var y = [Float](repeating: 0, count: rows * batch)
            for pool in pools {
                let t = try best(of: 5) { try Compute.matvec(weights: m, x: x, y: &y, pool: pool, isa: isa) }
                let r = Result(kernel: "matvec", type: type.name, threads: pool.threads, isa: isa.rawValue, seconds: t,
                               gigabytesPerSecond: Double(rows * rowBytes) / t / 1e9,
                               gigaflopsPerSecond: 2 * Double(rows * cols) / t / 1e9)
                results.append(r)
                report(line(r))
            }
            let mm = try QuantizedMatrix(type: type, rows: min(rows, 1024), cols: cols, data: weights)
            for pool in pools {
                let t = try best(of: 3) { try Compute.matmul(weights: mm, x: x, count: batch, y: &y, pool: pool, isa: isa) }
                let r = Result(kernel: "matmul", type: type.name, threads: pool.threads, isa: isa.rawValue, seconds: t,
                               gigabytesPerSecond: Double(mm.rows * rowBytes) / t / 1e9,
                               gigaflopsPerSecond: 2 * Double(mm.rows * cols * batch) / t / 1e9)
                results.append(r)
                report(line(r))
            }
        }
        return results
    }

    static func line(_ r: Result) -> String {
        let kernel = r.kernel.padding(toLength: 12, withPad: " ", startingAt: 0)
        let type = r.type.padding(toLength: 6, withPad: " ", startingAt: 0)
        return "\(kernel)\(type) \(r.isa) threads \(r.threads): "
            + String(format: "%8.2f GB/s %8.2f GFLOP/s %9.3f ms", r.gigabytesPerSecond, r.gigaflopsPerSecond, r.seconds * 1e3)
    }

    /// Streams two 128 MiB f32 arrays through the f32 dot kernel: bytes read per second.
    static func memoryProbe(pools: [ThreadPool], isa: ISA, report: (String) -> Void) -> [Result] {
        let n = 32 << 20
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { a.deallocate(); b.deallocate() }
        a.initialize(repeating: 1, count: n)
        b.initialize(repeating: 0.5, count: n)
        let dot = fw_get_vec_dot(isa.raw, Int32(GGMLType.f32.rawValue))!
        var out: [Result] = []
        for pool in pools {
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: pool.threads)
            defer { partial.deallocate() }
            let t = best(of: 3) {
                pool.parallelFor(n, granularity: 4096) { range in
                    var s: Float = 0
                    dot(Int64(range.count), &s, a + range.lowerBound, b + range.lowerBound)
                    partial[range.lowerBound * pool.threads / n] = s
                }
            }
            let r = Result(kernel: "memory-read", type: "f32", threads: pool.threads, isa: isa.rawValue, seconds: t,
                           gigabytesPerSecond: Double(2 * n * 4) / t / 1e9, gigaflopsPerSecond: 2 * Double(n) / t / 1e9)
            out.append(r)
            report(line(r))
        }
        return out
    }

    /// Cost of one empty `parallelFor` round trip (wake the workers, wait for them), in seconds.
    static func dispatchProbe(pools: [ThreadPool], isa: ISA, report: (String) -> Void) -> [Result] {
        pools.map { pool in
            let rounds = 2000
            let t = best(of: 3) {
                for _ in 0..<rounds { pool.parallelFor(pool.threads) { _ in } }
            } / Double(rounds)
            let r = Result(kernel: "dispatch", type: "-", threads: pool.threads, isa: isa.rawValue, seconds: t,
                           gigabytesPerSecond: 0, gigaflopsPerSecond: 0)
            report("dispatch          threads \(pool.threads): " + String(format: "%8.2f µs per parallelFor", t * 1e6))
            return r
        }
    }

    /// Deterministic bytes with small finite fp16 scales, so kernels run on realistic values.
    static func fillWeights(_ p: UnsafeMutableRawPointer, type: GGMLType, rows: Int, rowBytes: Int) {
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        var state: UInt64 = 0x1234_5678
        for i in 0..<(rows * rowBytes) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 56)
        }
        let (_, blockBytes) = type.blockLayout
        let scaleBits: UInt16 = 0x2000  // fp16 ~0.0078
        switch type {
        case .f16:
            for i in 0..<(rows * rowBytes / 2) { bytes[2 * i + 1] &= 0x3B }  // keep the exponent small: finite
        case .bf16:
            for i in 0..<(rows * rowBytes / 2) { bytes[2 * i + 1] &= 0x3F }
        case .f32:
            for i in 0..<(rows * rowBytes / 4) { bytes[4 * i + 3] &= 0x3F }
        default:
            let fields: [Int] = switch type {
            case .q4_0, .q5_0, .q8_0: [0]
            case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
            case .q2_K: [80, 82]
            case .q3_K: [108]
            case .q6_K: [208]
            default: []
            }
            for block in 0..<(rows * rowBytes / blockBytes) {
                for f in fields {
                    bytes[block * blockBytes + f] = UInt8(scaleBits & 0xFF)
                    bytes[block * blockBytes + f + 1] = UInt8(scaleBits >> 8)
                }
            }
        }
    }

    static func best(of n: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()  // warm-up: page faults, caches, thread wake-up
        var best = Double.infinity
        for _ in 0..<n {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }
}
