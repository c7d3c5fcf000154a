import CKernels
import Compute
import Foundation
import GGUF

/// Gemma 3 text decoder, as in llama.cpp src/models/gemma3.cpp:
/// embeddings × √n_embd; RMSNorm weights already hold the +1; QK-norm; Q pre-scaled; NEOX RoPE;
/// post-attention and post-FFN norms; GELU-tanh gated FFN; layer i local (sliding window, RoPE
/// base 10 000 unscaled) iff i % 6 < 5, else global (metadata base and its linear scaling);
/// output tied to token_embd when output.weight is absent.
public final class Gemma3: LanguageModel, @unchecked Sendable {
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
        try kernels.check(tokens, state: s)
        var done = 0
        while done < tokens.count {
            let n = min(s.chunkSize, tokens.count - done)
            // Only the last token's logits: llama.cpp runs the last layer after attention on that
            // row alone (inp_out_ids), so do we (its FFN then sums as for a one-row batch).
            let lastOnly = !allLogits && done + n == tokens.count && n > 1
            try forward(tokens[done..<(done + n)], state: s, lastRowOnly: lastOnly)
            if allLogits || done + n == tokens.count {
                let first = allLogits ? 0 : n - 1
                // After a last-row-only pass the hidden state of that row sits in row 0.
                try logits(rows: lastOnly ? 0..<1 : first..<n, state: s)
                for r in first..<n {
                    try body(done + r, UnsafeBufferPointer(start: s.logits + (r - first) * config.vocabSize, count: config.vocabSize))
                }
            }
            done += n
        }
    }

    func forward(_ tokens: ArraySlice<Int32>, state s: SequenceState, lastRowOnly: Bool = false) throws {
        let c = config, pool = kernels.pool, isa = kernels.isa
        let n = tokens.count, d = c.embeddingWidth, start = s.count
        let qw = c.heads * c.headDim, kw = c.kvHeads * c.headDim
        for (r, t) in tokens.enumerated() { embeddings.dequantizeRow(Int(t), into: s.x + r * d) }
        Compute.scale(s.x, by: Float(d).squareRoot(), count: n * d, isa: isa)

        for (l, b) in blocks.enumerated() {
            kernels.rmsNorm(s.x, b.attentionNorm, into: s.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.wq, b.wk, b.wv], x: s.xn, count: n, outputs: [s.q, s.k, s.v], pool: pool, isa: isa, matchLlamaCpp: true)
            // QK-norm per head, then RoPE, then the query scale (the attention itself scales by 1).
            kernels.rmsNorm(s.q, b.qNorm, into: s.q, rows: n * c.heads, width: c.headDim)
            kernels.rmsNorm(s.k, b.kNorm, into: s.k, rows: n * c.kvHeads, width: c.headDim)
            for r in 0..<n {
                fw_rope_llamacpp(s.q + r * qw, Int64(c.heads), Int64(c.headDim), Int64(c.headDim), Int64(start + r), b.ropeBase, b.ropeScaling, 1)
                fw_rope_llamacpp(s.k + r * kw, Int64(c.kvHeads), Int64(c.headDim), Int64(c.headDim), Int64(start + r), b.ropeBase, b.ropeScaling, 1)
            }
            Compute.scale(s.q, by: attentionScale, count: n * qw, isa: isa)
            kernels.storeKV(layer: l, state: s, start: start, n: n)
            kernels.attention(layer: l, state: s, start: start, n: n, scale: 1)
            try Compute.matmul(weights: b.wo, x: s.attn, count: n, y: s.o, pool: pool, isa: isa, matchLlamaCpp: true)
            var n = n
            if lastRowOnly && l == blocks.count - 1 {
                s.o.update(from: s.o + (n - 1) * d, count: d)
                s.x.update(from: s.x + (n - 1) * d, count: d)
                n = 1
            }
            kernels.rmsNorm(s.o, b.postAttentionNorm, into: s.o, rows: n, width: d)
            Compute.add(s.x, s.o, into: s.x, count: n * d, isa: isa)

            kernels.rmsNorm(s.x, b.ffnNorm, into: s.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.gate, b.up], x: s.xn, count: n, outputs: [s.gate, s.up], pool: pool, isa: isa, matchLlamaCpp: true)
            Self.geglu(s.gate, s.up, count: n * c.ffnWidth)
            try Compute.matmul(weights: b.down, x: s.gate, count: n, y: s.o, pool: pool, isa: isa, matchLlamaCpp: true)
            kernels.rmsNorm(s.o, b.postFFNNorm, into: s.o, rows: n, width: d)
            Compute.add(s.x, s.o, into: s.x, count: n * d, isa: isa)
        }
        s.advance(by: n)
    }

    func logits(rows: Range<Int>, state s: SequenceState) throws {
        let d = config.embeddingWidth
        kernels.rmsNorm(s.x + rows.lowerBound * d, outputNorm, into: s.xn, rows: rows.count, width: d)
        try Compute.matmul(weights: output, x: s.xn, count: rows.count, y: s.logits, pool: kernels.pool, isa: kernels.isa, matchLlamaCpp: true)
        if let cap = finalSoftcap {
            let m = rows.count * config.vocabSize
            for i in 0..<m { s.logits[i] = cap * tanhf(s.logits[i] * (1 / cap)) }
        }
    }

    /// gate = GELU-tanh(gate) · up, through ggml's fp16 GELU table (ggml-cpu vec.h, GGML_GELU_FP16):
    /// the input rounds to fp16, the table holds fp16 results; outside ±10 it is 0 or x.
    static func geglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        geluTable.withUnsafeBufferPointer { table in
            for i in 0..<count {
                let x = gate[i]
                let g: Float = x <= -10 ? 0 : x >= 10 ? x : fw_fp16_to_fp32(table[Int(fw_fp32_to_fp16(x))])
                gate[i] = g * up[i]
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
