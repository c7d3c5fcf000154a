import CKernels
import Compute
import Foundation
import GGUF
import Testing

struct MatmulTests {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// matvec row r is exactly the vec_dot of row r with the quantized x, whatever the thread count.
    @Test(arguments: types)
    func matvecEqualsRowDots(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0x3A7 &+ UInt64(type.rawValue))
        let rows = 37, cols = 512
        let w = randomWeights(type, count: rows * cols, rng: &rng)
        let x = randomFloats(cols, rng: &rng)
        for threads in [1, 2, 3] {
            let pool = ThreadPool(threads: threads)
            var y = [Float](repeating: .nan, count: rows)
            try w.withUnsafeBytes { wp in
                let m = try QuantizedMatrix(type: type, rows: rows, cols: cols, data: wp.baseAddress!)
                try Compute.matvec(weights: m, x: x, y: &y, pool: pool)
                let a = try VecDotTests.activations(x, for: type)
                for r in 0..<rows {
                    let row = Array(UnsafeRawBufferPointer(rebasing: wp[(r * m.rowBytes)..<((r + 1) * m.rowBytes)]))
                    let expected = try VecDotTests.dot(type, row, a, cols, ISA.preferred)
                    #expect(y[r] == expected, "\(type.name) row \(r), \(threads) threads")
                }
            }
        }
    }

    /// matmul column j equals matvec of activation row j, exactly (same kernel, same order).
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .f16, .bf16, .f32])
    func matmulEqualsMatvecPerRow(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0x77 &+ UInt64(type.rawValue))
        let rows = 70, cols = 256, n = 37  // not multiples of the tiles
        let w = randomWeights(type, count: rows * cols, rng: &rng)
        let x = randomFloats(n * cols, rng: &rng)
        let pool = ThreadPool(threads: 2)
        var y = [Float](repeating: .nan, count: n * rows)
        try w.withUnsafeBytes { wp in
            let m = try QuantizedMatrix(type: type, rows: rows, cols: cols, data: wp.baseAddress!)
            try Compute.matmul(weights: m, x: x, count: n, y: &y, pool: pool)
            for j in 0..<n {
                var yj = [Float](repeating: .nan, count: rows)
                try x.withUnsafeBufferPointer { xp in
                    try Compute.matvec(weights: m, x: xp.baseAddress! + j * cols, y: &yj, pool: pool)
                }
                #expect(Array(y[(j * rows)..<((j + 1) * rows)]) == yj, "\(type.name) activation row \(j)")
            }
        }
    }

    @Test func rejectsBadShapes() throws {
        let w = [UInt8](repeating: 0, count: 1024)
        w.withUnsafeBytes { wp in
            #expect(throws: ComputeError.self) { try QuantizedMatrix(type: .q4_K, rows: 1, cols: 100, data: wp.baseAddress!) }
            #expect(throws: ComputeError.unsupportedType(.iq4_xs)) {
                try QuantizedMatrix(type: .iq4_xs, rows: 1, cols: 256, data: wp.baseAddress!)
            }
        }
    }
}

extension MatmulTests {
    /// Several matrices sharing x (mixed types, so two activation types) give exactly what separate
    /// calls give, for one activation row and for a batch.
    @Test(arguments: [1, 5])
    func fusedMatricesEqualSeparateCalls(count: Int) throws {
        var rng = SeededRandom(seed: 0xF05E)
        let cols = 512
        let specs: [(GGMLType, Int)] = [(.q5_0, 40), (.q4_K, 23), (.q8_0, 17), (.q4_1, 9)]
        let x = randomFloats(count * cols, rng: &rng)
        let pool = ThreadPool(threads: 2)
        // Weights and outputs in manually allocated memory, so the pointers stay valid throughout.
        let matrices = try specs.map { type, rows in
            let bytes = randomWeights(type, count: rows * cols, rng: &rng)
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            p.copyMemory(from: bytes, byteCount: bytes.count)
            return try QuantizedMatrix(type: type, rows: rows, cols: cols, data: p)
        }
        let outs = specs.map { UnsafeMutablePointer<Float>.allocate(capacity: count * $0.1) }
        defer {
            for m in matrices { m.data.deallocate() }
            for o in outs { o.deallocate() }
        }
        try Compute.matmul(weights: matrices, x: x, count: count, outputs: outs, pool: pool)
        let fused = zip(outs, specs).map { Array(UnsafeBufferPointer(start: $0, count: count * $1.1)) }
        var separate = specs.map { [Float](repeating: .nan, count: count * $0.1) }
        for k in 0..<specs.count {
            try Compute.matmul(weights: matrices[k], x: x, count: count, y: &separate[k], pool: pool)
        }
        #expect(fused == separate)
    }
}
