import CKernels
import GGUF

/// Entry points of the numeric layer: matrix products over quantized weights, and float ops.
/// Every function takes the ISA to run with; `ISA.preferred` is the process-wide choice.
public enum Compute {
    // MARK: Quantization

    /// Dequantizes `count` values of `type` (a whole number of blocks) to f32.
    public static func dequantize(_ type: GGMLType, from src: UnsafeRawPointer, to dst: UnsafeMutablePointer<Float>,
                                  count: Int) throws(ComputeError) {
        let t = Int32(type.rawValue)
        guard fw_type_block_weights(t) > 0 else { throw .unsupportedType(type) }
        guard fw_row_size(t, Int64(count)) > 0 || count == 0 else {
            throw .shape("\(count) values is not a whole number of \(type.name) blocks")
        }
        fw_dequantize_row(t, src, dst, Int64(count))
    }

    /// Bytes that `count` values take in `type`, or nil when not a whole number of blocks.
    public static func rowBytes(_ type: GGMLType, count: Int) -> Int? {
        let n = fw_row_size(Int32(type.rawValue), Int64(count))
        return n > 0 ? Int(n) : nil
    }

    /// Quantizes `count` f32 activations to `type` (q8_0, q8_1, q8_K, or f32 as a copy).
    public static func quantize(_ x: UnsafePointer<Float>, to type: GGMLType, into dst: UnsafeMutableRawPointer,
                                count: Int, isa: ISA = .preferred) throws(ComputeError) {
        let rc = fw_quantize_row(isa.raw, Int32(type.rawValue), x, dst, Int64(count))
        try check(rc, type: type, what: "\(count) activations for \(type.name)")
    }

    // MARK: Matrix products

    /// y = W x: x has `weights.cols` values, y gets `weights.rows`. x is quantized once to the
    /// weights' activation type, then the rows are split across the pool.
    public static func matvec(weights: QuantizedMatrix, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                              pool: ThreadPool, isa: ISA = .preferred) throws(ComputeError) {
        try matmul(weights: [weights], x: x, count: 1, outputs: [y], pool: pool, isa: isa)
    }

    /// Y = X Wᵀ for `count` activation rows: X is count × cols (row-major), Y is count × rows.
    /// The weight rows are split across the pool; each thread runs the tiled C kernel on its rows.
    public static func matmul(weights: QuantizedMatrix, x: UnsafePointer<Float>, count: Int,
                              y: UnsafeMutablePointer<Float>, pool: ThreadPool, isa: ISA = .preferred,
                              matchLlamaCpp: Bool = false, independentRows: Bool = false) throws(ComputeError) {
        try matmul(weights: [weights], x: x, count: count, outputs: [y], pool: pool, isa: isa, matchLlamaCpp: matchLlamaCpp,
                   independentRows: independentRows)
    }

    /// Several matrices with the same input (e.g. the Q, K and V projections, or FFN gate and up):
    /// x is quantized once per activation type and all rows share one parallel dispatch.
    /// outputs[k] receives count × weights[k].rows values. With count 1 this is a matvec.
    /// `matchLlamaCpp` quantizes the activations as llama.cpp's CPU backend does at run time on
    /// this ISA (on x86: Q8_0/Q8_1 with 127/amax and half-to-even rounding) instead of the reference,
    /// and sums each matrix in the order llama.cpp's x86 backend picks for it and for this batch
    /// (fw_matmul_llamacpp: repacked Q4_K, tiled Q6_K from 8 rows). `count` is then llama.cpp's
    /// batch: results of a row can depend on how many rows are multiplied together.
    /// `independentRows` (with `matchLlamaCpp`) computes every row as llama.cpp computes a batch of
    /// one instead, so a row's result does not depend on the others: for rows of different sequences
    /// (batched decode), whose tokens must not depend on what else runs beside them.
    public static func matmul(weights: [QuantizedMatrix], x: UnsafePointer<Float>, count: Int,
                              outputs: [UnsafeMutablePointer<Float>], pool: ThreadPool,
                              isa: ISA = .preferred, matchLlamaCpp: Bool = false,
                              independentRows: Bool = false) throws(ComputeError) {
        precondition(weights.count == outputs.count, "one output per matrix")
        guard count > 0, let first = weights.first else { return }
        let cols = first.cols
        guard weights.allSatisfy({ $0.cols == cols }) else { throw .shape("matrices with one input differ in columns") }
        // One quantized copy of x per activation type in use, and one more where llama.cpp's
        // repacked gemm quantizes groups of four rows its own way (fw_quantize_row_llamacpp_gemm).
        struct Key: Hashable { let type: GGMLType; let repack: Bool }
        func repacks(_ m: QuantizedMatrix) -> Bool {
            matchLlamaCpp && fw_llamacpp_repacks(isa.raw, Int32(m.type.rawValue), Int64(m.rows)) != 0
        }
        let gemmRows = independentRows ? 0 : count - count % 4
        func key(_ m: QuantizedMatrix) -> Key { Key(type: m.activationType, repack: repacks(m) && gemmRows > 0) }
        var quantized: [Key: (buffer: UnsafeMutableRawPointer, rowBytes: Int)] = [:]
        defer { for q in quantized.values { q.buffer.deallocate() } }
        for k in Set(weights.map(key)) {
            let act = k.type
            guard let xBytes = rowBytes(act, count: cols) else {
                throw .shape("\(cols) columns is not a whole number of \(act.name) blocks")
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: xBytes * count, alignment: 64)
            quantized[k] = (buffer, xBytes)
            func quantizeRow(_ j: Int) -> Int32 {
                if matchLlamaCpp {
                    return k.repack && j < gemmRows
                        ? fw_quantize_row_llamacpp_gemm(isa.raw, Int32(act.rawValue), x + j * cols, buffer + j * xBytes, Int64(cols))
                        : fw_quantize_row_llamacpp(isa.raw, Int32(act.rawValue), x + j * cols, buffer + j * xBytes, Int64(cols))
                }
                return fw_quantize_row(isa.raw, Int32(act.rawValue), x + j * cols, buffer + j * xBytes, Int64(cols))
            }
            // Row 0 checks the arguments (ISA, type, width), which every row shares; the other
            // rows are quantized by the pool (serial, they were 5% of a 2-thread prompt pass).
            try check(quantizeRow(0), type: act, what: "\(cols) activations for \(act.name)")
            if count > 1 {
                pool.parallelFor(count - 1, granularity: max(1, (count - 1) / (4 * pool.threads))) { range in
                    for j in range { precondition(quantizeRow(j + 1) == FW_OK, "activation quantization failed") }
                }
            }
        }
        // Rows of all matrices, end to end; each thread takes a contiguous stretch (multiples of
        // 16, the C tile height) and runs the kernels on the part that falls in each matrix.
        struct Job { let m: QuantizedMatrix; let y: UnsafeMutablePointer<Float>; let x: UnsafeMutableRawPointer; let xBytes: Int; let start: Int }
        var jobs: [Job] = []
        var total = 0
        for (m, y) in zip(weights, outputs) {
            let q = quantized[key(m)]!
            jobs.append(Job(m: m, y: y, x: q.buffer, xBytes: q.rowBytes, start: total))
            total += (m.rows + 15) / 16 * 16
        }
        // The inputs were checked above (quantize validated the ISA and the shapes), so the
        // kernels below cannot fail. shareEnd: decode prefetches up to there (the rows this thread
        // takes next), past the range's end.
        func rows(_ range: Range<Int>, _ shareEnd: Int) {
            for job in jobs {
                let lo = max(range.lowerBound, job.start) - job.start
                let hi = min(range.upperBound, job.start + job.m.rows) - job.start
                guard lo < hi else { continue }
                let pe = Int64(max(hi, min(job.m.rows, shareEnd - job.start)))
                let wtype = Int32(job.m.type.rawValue)
                let rc = matchLlamaCpp && independentRows && count > 1
                    ? fw_matmul_llamacpp_independent(isa.raw, wtype, job.m.data, job.m.rowBytes, Int64(cols), job.x, job.xBytes,
                                                     Int64(count), job.y, Int64(job.m.rows), Int64(job.m.rows), Int64(lo), Int64(hi))
                    : matchLlamaCpp
                    ? fw_matmul_llamacpp_ahead(isa.raw, wtype, job.m.data, job.m.rowBytes, Int64(cols), job.x, job.xBytes,
                                               Int64(count), job.y, Int64(job.m.rows), Int64(job.m.rows), Int64(lo), Int64(hi), pe)
                    : count == 1
                    ? fw_matvec_ahead(isa.raw, wtype, job.m.data, job.m.rowBytes, Int64(cols), job.x, job.y, Int64(lo), Int64(hi), pe)
                    : fw_matmul(isa.raw, wtype, job.m.data, job.m.rowBytes, Int64(cols), job.x, job.xBytes, Int64(count),
                                job.y, Int64(job.m.rows), Int64(lo), Int64(hi))
                precondition(rc == FW_OK, "matrix kernel failed: \(rc)")
            }
        }
        if count == 1 && pool.threads > 1 {
            // Decode: with equal halves the threads did not finish together (perf: the worker
            // spun for a fifth of a 2-thread SmolLM2 step); in chunks (8 a thread, multiples of
            // the C tile's 16 rows) the one done first takes over the other's last chunks.
            let chunk = max(16, (total / (pool.threads * 8) + 15) / 16 * 16)
            pool.parallelForChunks(total, chunk: chunk, rows)
        } else {
            pool.parallelFor(total, granularity: 16) { rows($0, $0.upperBound) }
        }
    }

    /// Dot product of one weight row (of `type`, `count` values) with an activation row already
    /// quantized to that type's activation type.
    public static func dot(_ type: GGMLType, weights: UnsafeRawPointer, activations: UnsafeRawPointer, count: Int,
                           isa: ISA = .preferred) throws(ComputeError) -> Float {
        guard isa.isSupported else { throw .isaUnsupported(isa.rawValue) }
        guard let f = fw_get_vec_dot(isa.raw, Int32(type.rawValue)) else { throw .unsupportedType(type) }
        var s: Float = 0
        f(Int64(count), &s, weights, activations)
        return s
    }

    // MARK: Float ops

    /// y = x · w / sqrt(mean(x²) + eps). y may be x.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                               count: Int, eps: Float, isa: ISA = .preferred) {
        fw_rms_norm(isa.raw, x, weight, y, Int64(count), eps)
    }

    /// Pair layouts of rotary embeddings: `.normal` rotates (x[2i], x[2i+1]) (llama),
    /// `.neox` rotates (x[i], x[i + d/2]) (Gemma 3, NeoX).
    public enum RopeLayout: Sendable { case normal, neox }

    /// Rotates `heads` heads of `headDim` values in place at `position`, with
    /// θᵢ = (position / scalingFactor) · base^(−2i / rotatedDims).
    public static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotatedDims: Int? = nil,
                            position: Int, base: Float, scalingFactor: Float = 1, layout: RopeLayout,
                            isa: ISA = .preferred) {
        fw_rope(isa.raw, x, Int64(heads), Int64(headDim), Int64(rotatedDims ?? headDim), Int64(position), base,
                scalingFactor, layout == .neox ? 1 : 0)
    }

    /// In place: x = exp(x − max) / Σ exp(x − max).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, isa: ISA = .preferred) {
        fw_softmax(isa.raw, x, Int64(count))
    }

    /// y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))).
    public static func geluTanh(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                                isa: ISA = .preferred) {
        fw_gelu_tanh(isa.raw, x, y, Int64(count))
    }

    /// y = x / (1 + e^(−x)).
    public static func silu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                            isa: ISA = .preferred) {
        fw_silu(isa.raw, x, y, Int64(count))
    }

    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                           count: Int, isa: ISA = .preferred) {
        fw_add(isa.raw, a, b, y, Int64(count))
    }

    public static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                           count: Int, isa: ISA = .preferred) {
        fw_mul(isa.raw, a, b, y, Int64(count))
    }

    /// y += a · x (attention: weighted sum of value rows).
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                            isa: ISA = .preferred) {
        _ = fw_axpy(isa.raw, a, Int32(FW_TYPE_F32), x, y, Int64(count))
    }

    /// y += a · x with x in fp16 bits (an F16 KV-cache row).
    public static func axpy(_ a: Float, f16 x: UnsafePointer<UInt16>, into y: UnsafeMutablePointer<Float>, count: Int,
                            isa: ISA = .preferred) {
        _ = fw_axpy(isa.raw, a, Int32(FW_TYPE_F16), x, y, Int64(count))
    }

    /// x *= a.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count: Int, isa: ISA = .preferred) {
        fw_scale(isa.raw, x, a, Int64(count))
    }

    /// f32 → fp16 bits, round to nearest even (identical on every ISA).
    public static func toF16(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<UInt16>, count: Int,
                             isa: ISA = .preferred) {
        fw_f32_to_f16_row(isa.raw, x, y, Int64(count))
    }

    private static func check(_ rc: Int32, type: GGMLType, what: String) throws(ComputeError) {
        switch rc {
        case Int32(FW_OK): return
        case Int32(FW_ERR_TYPE): throw .unsupportedType(type)
        case Int32(FW_ERR_ISA_UNSUPPORTED): throw .isaUnsupported("requested")
        default: throw .shape(what)
        }
    }
}
