import Compute
import GGUF

/// Gemma 3 text decoder, as in llama.cpp src/models/gemma3.cpp:
/// embeddings × √n_embd; RMSNorm weights already hold the +1; QK-norm; Q pre-scaled; NEOX RoPE;
/// post-attention and post-FFN norms; GELU-tanh gated FFN; layer i local (sliding window, RoPE
/// base 10 000 unscaled) iff i % 6 < 5, else global (metadata base and its linear scaling);
/// output tied to token_embd when output.weight is absent. No attention-logit soft-capping: that
/// was Gemma 2's, and llama.cpp's gemma3 graph has none.
final class Gemma3: SegmentedForward, @unchecked Sendable {
    let config: ModelConfig
    let pool: ThreadPool
    let weights: WeightStore
    let ends: EmbeddingAndHead
    /// Applied only without a sliding window, as llama.cpp builds it (the non-iSWA graph).
    let finalLogitSoftcap: Float?
    let attention: Attention
    let blocks: [Block]

    struct Block {
        let attentionNorm, qNorm, kNorm, postAttentionNorm: UnsafePointer<Float>
        let projections: AttentionProjections
        let ffnNorm, postFFNNorm: UnsafePointer<Float>
        let ffn: GatedFeedForward
        let rope: Rope
    }

    init(file: GGUFFile, config c: ModelConfig, pool: ThreadPool) throws {
        config = c
        self.pool = pool
        weights = WeightStore(file: file)
        ends = try EmbeddingAndHead(weights)
        finalLogitSoftcap = c.slidingWindow == nil ? c.finalLogitSoftcap.map { Float($0) } : nil
        attention = Attention(shape: c.shape, pool: pool)
        blocks = try (0..<c.layers).map { [weights] i in
            let b = "blk.\(i).", local = c.slidingLayers[i]
            return Block(
                attentionNorm: try weights.vector(b + "attn_norm.weight"),
                qNorm: try weights.vector(b + "attn_q_norm.weight"), kNorm: try weights.vector(b + "attn_k_norm.weight"),
                postAttentionNorm: try weights.vector(b + "post_attention_norm.weight"),
                projections: try AttentionProjections(weights, block: b),
                ffnNorm: try weights.vector(b + "ffn_norm.weight"), postFFNNorm: try weights.vector(b + "post_ffw_norm.weight"),
                ffn: try GatedFeedForward(weights, block: b),
                rope: Rope(headDim: c.headDim, base: Float(local ? (c.localRopeBase ?? c.ropeBase) : c.ropeBase),
                           scalingFactor: local ? 1 : c.ropeScalingDivisor, layout: .neox))
        }
    }

    var runsLastRowOnly: Bool { true }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace,
                 lastRowOnly: Bool) throws {
        let c = config, plan = matmulPlan(segments), d = c.embeddingWidth
        var n = tokens.count
        ends.embeddings.dequantizeRows(tokens, into: w.x)
        Compute.scale(w.x, by: Float(d).squareRoot(), count: n * d)

        for (l, b) in blocks.enumerated() {
            // Attention: QK-norm per head, then RoPE, then the query scale (the attention itself scales by 1).
            rmsNorm(w.x, b.attentionNorm, into: w.xn, rows: n)
            try project(w.xn, [b.projections.query, b.projections.key, b.projections.value], into: [w.q, w.k, w.v], rows: n, plan: plan)
            rmsNorm(w.q, b.qNorm, into: w.q, rows: n * c.heads, width: c.headDim)
            rmsNorm(w.k, b.kNorm, into: w.k, rows: n * c.kvHeads, width: c.headDim)
            b.rope.rotate(queries: w.q, heads: c.heads, keys: w.k, kvHeads: c.kvHeads, segments: segments, pool: pool)
            Compute.scale(w.q, by: c.attentionScale, count: n * c.heads * c.headDim)
            attention.storeKeysAndValues(layer: l, segments: segments, workspace: w)
            attention(layer: l, segments: segments, workspace: w, scale: 1)
            try project(w.attn, [b.projections.output], into: [w.o], rows: n, plan: plan)
            // Only the last token's logits wanted: llama.cpp runs the last layer after attention on
            // that row alone (inp_out_ids), so do we (its FFN then sums as for a one-row batch).
            if lastRowOnly && l == blocks.count - 1 {
                w.keepOnlyRow(n - 1)
                n = 1
            }
            rmsNorm(w.o, b.postAttentionNorm, into: w.o, rows: n)
            Compute.add(w.x, w.o, into: w.x, count: n * d)

            // Feed-forward: GELU-gated, post-normed.
            rmsNorm(w.x, b.ffnNorm, into: w.xn, rows: n)
            try project(w.xn, [b.ffn.gate, b.ffn.up], into: [w.gate, w.up], rows: n, plan: plan)
            Compute.geglu(w.gate, w.up, count: n * c.ffnWidth, pool: pool)
            try project(w.gate, [b.ffn.down], into: [w.o], rows: n, plan: plan)
            rmsNorm(w.o, b.postFFNNorm, into: w.o, rows: n)
            Compute.add(w.x, w.o, into: w.x, count: n * d)
        }
        for seg in segments { seg.cache.advance(by: seg.count) }
    }
}
