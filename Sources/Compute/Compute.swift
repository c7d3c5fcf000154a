import CKernels
import Foundation
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
                              plan: MatmulPlan = .reference) throws(ComputeError) {
        try matmul(weights: [weights], x: x, count: count, outputs: [y], pool: pool, isa: isa, plan: plan)
    }

    /// Several matrices with the same input (e.g. the Q, K and V projections, or FFN gate and up):
    /// x is quantized once per activation type and all rows share one parallel dispatch.
    /// outputs[k] receives count × weights[k].rows values. With count 1 this is a matvec.
    /// `plan` says how the activations are quantized and in which order the products are summed.
    public static func matmul(weights: [QuantizedMatrix], x: UnsafePointer<Float>, count: Int,
                              outputs: [UnsafeMutablePointer<Float>], pool: ThreadPool,
                              isa: ISA = .preferred, plan: MatmulPlan = .reference) throws(ComputeError) {
        let matchLlamaCpp = plan != .reference, independentRows = plan == .llamaCppRowsAlone
        let order = switch plan {
        case .reference: FW_SUM_REFERENCE
        case .llamaCppBatch: FW_SUM_LLAMACPP_BATCH
        case .llamaCppRowsAlone: FW_SUM_LLAMACPP_ROWS_ALONE
        }
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
            // Row 0 checks the arguments (ISA, type, width), which every row shares; the pool
            // quantizes the other rows.
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
                var kernelPlan = fw_matmul_plan(isa: isa.raw, weight_type: Int32(job.m.type.rawValue), order: order,
                                                rows: Int64(job.m.rows), prefetch_end: pe)
                let rc = fw_matmul(&kernelPlan, job.m.data, job.m.rowBytes, Int64(cols), job.x, job.xBytes, Int64(count), job.y,
                                   Int64(job.m.rows), Int64(lo), Int64(hi))
                precondition(rc == FW_OK, "matrix kernel failed: \(rc)")
            }
        }
        if count == 1 && pool.threads > 1 {
            // Decode: threads given equal halves do not finish together, so the rows go in chunks
            // (8 a thread, multiples of the C tile's 16 rows) and the one done first takes over the
            // other's last chunks.
            let chunk = max(16, (total / (pool.threads * 8) + 15) / 16 * 16)
            pool.parallelForChunks(total, chunk: chunk, rows)
        } else {
            pool.parallelFor(total, granularity: 16) { rows($0, $0.upperBound) }
        }
    }

    // MARK: Float ops

    /// RMSNorm of `rows` rows of `width` values as llama.cpp's CPU backend computes it
    /// (y = x / sqrt(mean(x²) + eps) · w, squares summed in double); rows split over the pool from 8.
    /// y may be x.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                               rows: Int = 1, width: Int, eps: Float, pool: ThreadPool? = nil) {
        guard let pool, rows >= 8 else {
            for r in 0..<rows { fw_rms_norm_llamacpp(x + r * width, weight, y + r * width, Int64(width), eps) }
            return
        }
        pool.parallelFor(rows) { range in
            for r in range { fw_rms_norm_llamacpp(x + r * width, weight, y + r * width, Int64(width), eps) }
        }
    }

    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                           count: Int, isa: ISA = .preferred) {
        fw_add(isa.raw, a, b, y, Int64(count))
    }

    /// In place: x = exp(x − max) / Σ exp(x − max) (attention over an F32 cache).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, isa: ISA = .preferred) {
        fw_softmax(isa.raw, x, Int64(count))
    }

    /// y += a · x (attention over an F32 cache: weighted sum of value rows).
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                            isa: ISA = .preferred) {
        _ = fw_axpy(isa.raw, a, Int32(FW_TYPE_F32), x, y, Int64(count))
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

/// How a matrix product quantizes its activations and orders its sums.
public enum MatmulPlan: Sendable, Equatable {
    /// Activations quantized as ggml's reference code does; rows in tiles of 16 (matmul.c).
    case reference
    /// As llama.cpp's x86 CPU backend computes a batch of this many rows: its run-time activation
    /// quantization (Q8_0/Q8_1 with 127/amax, half-to-even rounding) and the kernel it picks for
    /// each matrix and batch size (repacked Q4_K, tiled Q6_K from 8 rows). A row's result can
    /// depend on how many rows are multiplied together.
    case llamaCppBatch
    /// Every row as llama.cpp computes a batch of one, so a row's result does not depend on the
    /// others: for rows of different sequences (batched decode).
    case llamaCppRowsAlone
}

extension Compute {
    /// x[r] += bias for each of `rows` rows of `width` values.
    public static func addBias(_ bias: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                               isa: ISA = .preferred) {
        for r in 0..<rows { add(x + r * width, bias, into: x + r * width, count: width, isa: isa) }
    }

    /// x = cap · tanh(x / cap) (Gemma 2's final logit soft-capping).
    public static func softcap(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        for i in 0..<count { x[i] = cap * tanhf(x[i] * (1 / cap)) }
    }

    /// gate = SiLU(gate) · up, as llama.cpp's swiglu computes it on this ISA.
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int,
                              isa: ISA = .preferred) {
        fw_swiglu_llamacpp(isa.raw, gate, up, Int64(count))
    }

    /// gate = GELU-tanh(gate) · up, through ggml's fp16 GELU table (ggml-cpu vec.h, GGML_GELU_FP16):
    /// the input rounds to fp16, the table holds fp16 results; outside ±10 it is 0 or x.
    public static func geglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int,
                             pool: ThreadPool? = nil, isa: ISA = .preferred) {
        geluTable.withUnsafeBufferPointer { table in
            guard let pool, count >= 4096 else {
                fw_geglu_f16_table(isa.raw, gate, up, table.baseAddress!, Int64(count))
                return
            }
            pool.parallelFor((count + 1023) / 1024) { blocks in
                let lo = blocks.lowerBound * 1024, hi = min(count, blocks.upperBound * 1024)
                fw_geglu_f16_table(isa.raw, gate + lo, up + lo, table.baseAddress!, Int64(hi - lo))
            }
        }
    }

    /// fp16 GELU-tanh for every fp16 input (ggml_table_gelu_f16).
    static let geluTable: [UInt16] = (0..<65536).map { i in
        let x = fw_fp16_to_fp32(UInt16(i))
        // ggml_gelu_f32 as GCC contracts it: 1 + a·x·x becomes one FMA.
        let inner = fmaf(0.044715 * x, x, 1)
        let y = 0.5 * x * (1 + tanhf(0.79788456080286535587989211986876 * x * inner))
        return fw_fp32_to_fp16(y)
    }
}
