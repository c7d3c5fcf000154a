import CKernels
import Compute
import Foundation
import GGUF

/// Gemma 3 text decoder, as in llama.cpp src/models/gemma3.cpp:
/// embeddings × √n_embd; RMSNorm weights already hold the +1; QK-norm; Q pre-scaled; NEOX RoPE;
/// post-attention and post-FFN norms; GELU-tanh gated FFN; layer i local (sliding window, RoPE
/// base 10 000 unscaled) iff i % 6 < 5, else global (metadata base and its linear scaling);
/// output tied to token_embd when output.weight is absent.
public final class Gemma3: SegmentedForward, @unchecked Sendable {
    public let config: ModelConfig
    let weights: WeightStore
    let kernels: Kernels
    let embeddings: QuantizedMatrix
    let outputNorm: UnsafePointer<Float>
    let output: QuantizedMatrix
    let blocks: [Block]
    /// llama.cpp (llama-model.cpp, LLM_ARCH_GEMMA3): 1/√(n_embd/n_head) for the 27B (62 layers),
    /// else 1/√head_dim.
    let attentionScale: Float
    /// Applied only without a sliding window, as llama.cpp builds it (the non-iSWA graph).
    let finalSoftcap: Float?

    struct Block {
        let attentionNorm, qNorm, kNorm, postAttentionNorm: UnsafePointer<Float>
        let wq, wk, wv, wo: QuantizedMatrix
        let ffnNorm, postFFNNorm: UnsafePointer<Float>
        let gate, up, down: QuantizedMatrix
        let ropeBase: Float
        let ropeScaling: Float
    }

    init(file: GGUFFile, config: ModelConfig, pool: ThreadPool) throws {
        self.config = config
        weights = WeightStore(file: file)
        kernels = Kernels(config: config, pool: pool)
        embeddings = try weights.matrix("token_embd.weight")
        outputNorm = try weights.vector("output_norm.weight")
        output = weights.has("output.weight") ? try weights.matrix("output.weight") : embeddings
        attentionScale = config.layers == 62
            ? 1 / Float(config.embeddingWidth / config.heads).squareRoot()
            : 1 / Float(config.headDim).squareRoot()
        finalSoftcap = config.slidingWindow == nil ? config.finalLogitSoftcap.map { Float($0) } : nil
        let globalScaling = config.ropeScalingType == "linear" ? Float(config.ropeScalingFactor ?? 1) : 1
        var blocks: [Block] = []
        for i in 0..<config.layers {
            let b = "blk.\(i)."
            let local = config.slidingLayers[i]
            blocks.append(Block(
                attentionNorm: try weights.vector(b + "attn_norm.weight"),
                qNorm: try weights.vector(b + "attn_q_norm.weight"), kNorm: try weights.vector(b + "attn_k_norm.weight"),
                postAttentionNorm: try weights.vector(b + "post_attention_norm.weight"),
                wq: try weights.matrix(b + "attn_q.weight"), wk: try weights.matrix(b + "attn_k.weight"),
                wv: try weights.matrix(b + "attn_v.weight"), wo: try weights.matrix(b + "attn_output.weight"),
                ffnNorm: try weights.vector(b + "ffn_norm.weight"), postFFNNorm: try weights.vector(b + "post_ffw_norm.weight"),
                gate: try weights.matrix(b + "ffn_gate.weight"), up: try weights.matrix(b + "ffn_up.weight"),
                down: try weights.matrix(b + "ffn_down.weight"),
                ropeBase: Float(local ? (config.localRopeBase ?? config.ropeBase) : config.ropeBase),
                ropeScaling: local ? 1 : globalScaling))
        }
        self.blocks = blocks
    }

    public func makeState(contextLength: Int, cacheType: KVCacheType = .f16) -> SequenceState {
        SequenceState(config: config, capacity: contextLength, cacheType: cacheType, threads: kernels.pool.threads)
    }

    public func evaluate(_ tokens: [Int32], state s: SequenceState, allLogits: Bool,
                         _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        try evaluateChunks(tokens, state: s, allLogits: allLogits, body)
    }

    public func makeWorkspace(rows: Int, contextLength: Int) -> Workspace { workspace(rows: rows, contextLength: contextLength) }

    public func decode(_ tokens: [Int32], states: [SequenceState], workspace: Workspace,
                       _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        try decodeBatch(tokens, states: states, workspace: workspace, body)
    }

    var runsLastRowOnly: Bool { true }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace,
                 lastRowOnly: Bool) throws {
        let c = config, pool = kernels.pool, isa = kernels.isa
        // Rows of several sequences (batched decode): each as if it ran alone.
        let batch = segments.count > 1
        var n = tokens.count
        let d = c.embeddingWidth
        let qw = c.heads * c.headDim, kw = c.kvHeads * c.headDim
        for (r, t) in tokens.enumerated() { embeddings.dequantizeRow(Int(t), into: w.x + r * d) }
        Compute.scale(w.x, by: Float(d).squareRoot(), count: n * d, isa: isa)

        for (l, b) in blocks.enumerated() {
            kernels.rmsNorm(w.x, b.attentionNorm, into: w.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.wq, b.wk, b.wv], x: w.xn, count: n, outputs: [w.q, w.k, w.v], pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            // QK-norm per head, then RoPE, then the query scale (the attention itself scales by 1).
            kernels.rmsNorm(w.q, b.qNorm, into: w.q, rows: n * c.heads, width: c.headDim)
            kernels.rmsNorm(w.k, b.kNorm, into: w.k, rows: n * c.kvHeads, width: c.headDim)
            kernels.forEachRow(segments) { r, position in
                fw_rope_llamacpp(w.q + r * qw, Int64(c.heads), Int64(c.headDim), Int64(c.headDim), Int64(position), b.ropeBase, b.ropeScaling, 1)
                fw_rope_llamacpp(w.k + r * kw, Int64(c.kvHeads), Int64(c.headDim), Int64(c.headDim), Int64(position), b.ropeBase, b.ropeScaling, 1)
            }
            Compute.scale(w.q, by: attentionScale, count: n * qw, isa: isa)
            for seg in segments { kernels.storeKV(layer: l, segment: seg, workspace: w) }
            kernels.attention(layer: l, segments: segments, workspace: w, scale: 1)
            try Compute.matmul(weights: b.wo, x: w.attn, count: n, y: w.o, pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            // Only the last token's logits wanted: llama.cpp runs the last layer after attention on
            // that row alone (inp_out_ids), so do we (its FFN then sums as for a one-row batch).
            if lastRowOnly && l == blocks.count - 1 {
                w.o.update(from: w.o + (n - 1) * d, count: d)
                w.x.update(from: w.x + (n - 1) * d, count: d)
                n = 1
            }
            kernels.rmsNorm(w.o, b.postAttentionNorm, into: w.o, rows: n, width: d)
            Compute.add(w.x, w.o, into: w.x, count: n * d, isa: isa)

            kernels.rmsNorm(w.x, b.ffnNorm, into: w.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.gate, b.up], x: w.xn, count: n, outputs: [w.gate, w.up], pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            Self.geglu(w.gate, w.up, count: n * c.ffnWidth, pool: pool, isa: isa)
            try Compute.matmul(weights: b.down, x: w.gate, count: n, y: w.o, pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            kernels.rmsNorm(w.o, b.postFFNNorm, into: w.o, rows: n, width: d)
            Compute.add(w.x, w.o, into: w.x, count: n * d, isa: isa)
        }
        for seg in segments { seg.state.advance(by: seg.count) }
    }

    func logits(rows: Range<Int>, workspace w: Workspace, independentRows: Bool) throws {
        let d = config.embeddingWidth
        kernels.rmsNorm(w.x + rows.lowerBound * d, outputNorm, into: w.xn, rows: rows.count, width: d)
        try Compute.matmul(weights: output, x: w.xn, count: rows.count, y: w.logits, pool: kernels.pool, isa: kernels.isa, matchLlamaCpp: true,
                           independentRows: independentRows)
        if let cap = finalSoftcap {
            let m = rows.count * config.vocabSize
            for i in 0..<m { w.logits[i] = cap * tanhf(w.logits[i] * (1 / cap)) }
        }
    }

    /// gate = GELU-tanh(gate) · up, through ggml's fp16 GELU table (ggml-cpu vec.h, GGML_GELU_FP16):
    /// the input rounds to fp16, the table holds fp16 results; outside ±10 it is 0 or x.
    static func geglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int, pool: ThreadPool? = nil,
                      isa: ISA = .preferred) {
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
