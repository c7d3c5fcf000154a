import CKernels
import Compute
import Foundation
import GGUF
import Testing

struct MatmulTests {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// matvec row r is exactly the vec_dot of row r with the quantized x, whatever the thread count
    /// (37 rows: decode's four-row kernels and the rows left over; 8704 columns: rows longer than
    /// the offset kernels take).
    @Test(arguments: types, [512, 8704])
    func matvecEqualsRowDots(type: GGMLType, cols: Int) throws {
        var rng = SeededRandom(seed: 0x3A7 &+ UInt64(type.rawValue) &+ UInt64(cols))
        let rows = 37
        let w = randomWeights(type, count: rows * cols, rng: &rng)
        let x = randomFloats(cols, rng: &rng)
        for threads in [1, 2, 3] {
            let pool = try ThreadPool(threads: threads)
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
    /// 8704 columns are 272 blocks of 32: longer than the 1x8 kernels' staging buffer (256 blocks),
    /// so later groups of eight rows stage the weights again.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .f16, .bf16, .f32],
          [256, 8704])
    func matmulEqualsMatvecPerRow(type: GGMLType, cols: Int) throws {
        var rng = SeededRandom(seed: 0x77 &+ UInt64(type.rawValue) &+ UInt64(cols))
        let rows = 70, n = cols == 256 ? 37 : 19  // not multiples of the tiles
        let w = randomWeights(type, count: rows * cols, rng: &rng)
        let x = randomFloats(n * cols, rng: &rng)
        let pool = try ThreadPool(threads: 2)
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
        let pool = try ThreadPool(threads: 2)
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

/// llama.cpp's repacked Q4_K order (FW_SUM_LLAMACPP_REPACKED): the same numbers on every ISA,
/// close to the plain kernel, and per activation row the gemm order for whole groups of four
/// rows and the gemv order (= a one-row call) for the rest.
struct RepackOrderTests {
    static func run(_ m: QuantizedMatrix, _ xq: [UInt8], xBytes: Int, n: Int, isa: ISA) -> [Float] {
        var y = [Float](repeating: .nan, count: n * m.rows)
        let rc = xq.withUnsafeBytes { xp in
            var plan = fw_matmul_plan(isa: isa.raw, weight_type: Int32(GGMLType.q4_K.rawValue), order: FW_SUM_LLAMACPP_REPACKED,
                                      rows: Int64(m.rows), prefetch_end: 0)
            return fw_matmul(&plan, m.data, m.rowBytes, Int64(m.cols), xp.baseAddress!, xBytes, Int64(n), &y, Int64(m.rows), 0,
                             Int64(m.rows))
        }
        #expect(rc == FW_OK)
        return y
    }

    @Test func sameOnEveryISAAndGroupedAsLlamaCpp() throws {
        var rng = SeededRandom(seed: 0x4E9A)
        let rows = 24, cols = 768, n = 7
        let w = randomWeights(.q4_K, count: rows * cols, rng: &rng)
        let x = randomFloats(n * cols, rng: &rng)
        var xq: [UInt8] = []
        for j in 0..<n { xq += try VecDotTests.activations(Array(x[(j * cols)..<((j + 1) * cols)]), for: .q4_K) }
        let xBytes = xq.count / n
        try w.withUnsafeBytes { wp in
            let m = try QuantizedMatrix(type: .q4_K, rows: rows, cols: cols, data: wp.baseAddress!)
            let scalar = Self.run(m, xq, xBytes: xBytes, n: n, isa: .scalar)
            for isa in runnableISAs { #expect(Self.run(m, xq, xBytes: xBytes, n: n, isa: isa) == scalar, "\(isa)") }
            // Rows 4...6 are gemv rows: each equals a one-row call; rows 0...3 (gemm) need not.
            for j in 4..<n {
                let one = Self.run(m, Array(xq[(j * xBytes)..<((j + 1) * xBytes)]), xBytes: xBytes, n: 1, isa: .scalar)
                #expect(Array(scalar[(j * rows)..<((j + 1) * rows)]) == one, "row \(j)")
            }
            // Both orders sum the same exact integers: close to the plain kernel's result.
            var plain = [Float](repeating: .nan, count: n * rows)
            try Compute.matmul(weights: m, x: x, count: n, y: &plain, pool: try ThreadPool(threads: 1))
            for i in plain.indices { #expect(abs(plain[i] - scalar[i]) <= 1e-4 * max(1, abs(plain[i]))) }
            #expect(fw_llamacpp_repacks(ISA.avx2.raw, Int32(GGMLType.q4_K.rawValue), 24) == 1)
            #expect(fw_llamacpp_repacks(ISA.avx2.raw, Int32(GGMLType.q4_K.rawValue), 20) == 0)
            #expect(fw_llamacpp_repacks(ISA.avx2.raw, Int32(GGMLType.q6_K.rawValue), 24) == 0)
        }
    }
}

extension RepackOrderTests {
    /// FW_SUM_LLAMACPP_BATCH: Q6_K batches of 8 rows and more in llama.cpp's tiled order (close to the
    /// vec_dot order, the same per row whatever the batch), smaller batches exactly as FW_SUM_REFERENCE.
    @Test func q6KTiledFromEightRows() throws {
        var rng = SeededRandom(seed: 0x6B)
        let rows = 16, cols = 512
        let w = randomWeights(.q6_K, count: rows * cols, rng: &rng)
        let x = randomFloats(9 * cols, rng: &rng)
        var xq: [UInt8] = []
        for j in 0..<9 { xq += try VecDotTests.activations(Array(x[(j * cols)..<((j + 1) * cols)]), for: .q6_K) }
        let xBytes = xq.count / 9
        try w.withUnsafeBytes { wp in
            let m = try QuantizedMatrix(type: .q6_K, rows: rows, cols: cols, data: wp.baseAddress!)
            func run(_ f: (UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Int32, n: Int) -> [Float] {
                var y = [Float](repeating: .nan, count: n * rows)
                let rc = xq.withUnsafeBytes { xp in y.withUnsafeMutableBufferPointer { f(xp.baseAddress!, $0.baseAddress!, n) } }
                #expect(rc == FW_OK)
                return y
            }
            let isa = ISA.preferred.raw, t = Int32(GGMLType.q6_K.rawValue)
            func product(_ order: fw_sum_order, _ n: Int) -> [Float] {
                var plan = fw_matmul_plan(isa: isa, weight_type: t, order: order, rows: Int64(rows), prefetch_end: 0)
                return run({ fw_matmul(&plan, m.data, m.rowBytes, Int64(cols), $0, xBytes, Int64($2), $1, Int64(rows), 0, Int64(rows)) }, n: n)
            }
            let ours = { (n: Int) in product(FW_SUM_LLAMACPP_BATCH, n) }
            let plain = { (n: Int) in product(FW_SUM_REFERENCE, n) }
            #expect(ours(7) == plain(7))
            let nine = ours(9), eight = ours(8), ref = plain(9)
            #expect(Array(nine[0..<(8 * rows)]) == eight)
            for i in ref.indices { #expect(abs(nine[i] - ref[i]) <= 1e-4 * max(1, abs(ref[i]))) }
        }
    }
}

extension RepackOrderTests {
    /// `.llamaCppRowsAlone`: every row of a batch equals that row multiplied alone (llama.cpp's batch of
    /// one), also for the types whose llama.cpp order depends on the batch (repacked Q4_K, tiled Q6_K
    /// from 8 rows), at 1 and 2 threads; Q5_0 (batch-independent) takes the ordinary path.
    @Test(arguments: [GGMLType.q4_K, .q6_K, .q5_0])
    func rowsAloneEqualLoneRows(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0x1D)
        let rows = 48, cols = 512, n = 9
        let w = randomWeights(type, count: rows * cols, rng: &rng)
        let x = randomFloats(n * cols, rng: &rng)
        try w.withUnsafeBytes { wp in
            let m = try QuantizedMatrix(type: type, rows: rows, cols: cols, data: wp.baseAddress!)
            for threads in [1, 2] {
                let pool = try ThreadPool(threads: threads)
                var batched = [Float](repeating: .nan, count: n * rows)
                try Compute.matmul(weights: m, x: x, count: n, y: &batched, pool: pool, plan: .llamaCppRowsAlone)
                try x.withUnsafeBufferPointer { xp in
                    for j in 0..<n {
                        var one = [Float](repeating: .nan, count: rows)
                        try Compute.matmul(weights: m, x: xp.baseAddress! + j * cols, count: 1, y: &one, pool: pool, plan: .llamaCppBatch)
                        #expect(Array(batched[(j * rows)..<((j + 1) * rows)]) == one, "\(type) row \(j), \(threads) threads")
                    }
                }
            }
        }
    }
}

/// AVX-512's one-row kernels for decode's heaviest types compute the AVX2 kernels' bits: Q6_K in the
/// vec_dot order (matvec) and Q4_K in llama.cpp's repacked gemv order, over matrices long enough to
/// carry many blocks and with the extremes of every field (random bytes, random scales).
struct DecodeKernelAVX512Tests {
    static func matvec(_ type: GGMLType, order: fw_sum_order, isa: ISA, w: [UInt8], rows: Int, cols: Int, xq: [UInt8]) -> [Float] {
        var y = [Float](repeating: .nan, count: rows)
        let rowBytes = w.count / rows
        let rc = w.withUnsafeBytes { wp in
            xq.withUnsafeBytes { xp in
                var plan = fw_matmul_plan(isa: isa.raw, weight_type: Int32(type.rawValue), order: order, rows: Int64(rows), prefetch_end: 0)
                return fw_matmul(&plan, wp.baseAddress!, rowBytes, Int64(cols), xp.baseAddress!, xq.count, 1, &y, Int64(rows), 0, Int64(rows))
            }
        }
        #expect(rc == FW_OK)
        return y
    }

    @Test(arguments: [(GGMLType.q6_K, FW_SUM_REFERENCE), (.q6_K, FW_SUM_LLAMACPP_BATCH), (.q4_K, FW_SUM_LLAMACPP_REPACKED), (.q4_K, FW_SUM_LLAMACPP_BATCH)])
    func sameBitsAsAVX2(type: GGMLType, order: fw_sum_order) throws {
        guard ISA.avx512.isSupported else {
            // Nothing to compare on this CPU; the kernels still agree with the scalar twin (RepackOrderTests).
            #expect(!runnableISAs.contains(.avx512))
            return
        }
        var rng = SeededRandom(seed: 0xA512 &+ UInt64(type.rawValue))
        let rows = 40, cols = 5120  // Mistral Small's width: 20 blocks per row
        let w = randomWeights(type, count: rows * cols, rng: &rng, scale: -0.5...0.5)
        for range in [Float(-1)...1, -100...100] {
            let x = randomFloats(cols, rng: &rng, range: range)
            let xq = try VecDotTests.activations(x, for: type)
            let a = Self.matvec(type, order: order, isa: .avx512, w: w, rows: rows, cols: cols, xq: xq)
            let b = Self.matvec(type, order: order, isa: .avx2, w: w, rows: rows, cols: cols, xq: xq)
            #expect(a == b, "\(type) \(order)")
            #expect(a.allSatisfy { $0.isFinite })
        }
    }
}

extension DecodeKernelAVX512Tests {
    /// Prefill's four-row kernels on AVX-512 (Q4_K in the repacked gemm order, Q6_K in the tiled order)
    /// compute the AVX2 kernels' bits for batches with whole groups of four rows and a remainder.
    @Test(arguments: [(GGMLType.q4_K, FW_SUM_LLAMACPP_REPACKED), (.q4_K, FW_SUM_LLAMACPP_BATCH), (.q6_K, FW_SUM_LLAMACPP_BATCH)])
    func batchesSameBitsAsAVX2(type: GGMLType, order: fw_sum_order) throws {
        guard ISA.avx512.isSupported else {
            #expect(!runnableISAs.contains(.avx512))
            return
        }
        var rng = SeededRandom(seed: 0xB512 &+ UInt64(type.rawValue))
        // 25 rows: tiles of 16 and 9 weight rows, so pairs of rows and a last row alone.
        for (rows, n) in [(24, 7), (24, 9), (24, 12), (25, 8), (25, 13)] {
            let cols = 2048
            let w = randomWeights(type, count: rows * cols, rng: &rng, scale: -0.5...0.5)
            let rowBytes = w.count / rows
            let x = randomFloats(n * cols, rng: &rng, range: -50...50)
            var xq: [UInt8] = []
            for j in 0..<n { xq += try VecDotTests.activations(Array(x[(j * cols)..<((j + 1) * cols)]), for: type) }
            let xBytes = xq.count / n
            func run(_ isa: ISA) -> [Float] {
                var y = [Float](repeating: .nan, count: n * rows)
                let rc = w.withUnsafeBytes { wp in
                    xq.withUnsafeBytes { xp in
                        var plan = fw_matmul_plan(isa: isa.raw, weight_type: Int32(type.rawValue), order: order, rows: Int64(rows), prefetch_end: 0)
                        return fw_matmul(&plan, wp.baseAddress!, rowBytes, Int64(cols), xp.baseAddress!, xBytes, Int64(n), &y, Int64(rows), 0, Int64(rows))
                    }
                }
                #expect(rc == FW_OK)
                return y
            }
            let a = run(.avx512), b = run(.avx2)
            #expect(a == b, "\(type) \(order) rows=\(rows) n=\(n)")
            #expect(a.allSatisfy { $0.isFinite })
        }
    }
}
