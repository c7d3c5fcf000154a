import Compute
import GGUF

/// Llama-family decoder (Llama 2/3, SmolLM2, Mistral Small 3.1 text under `mistral3.`), as in
/// llama.cpp src/models/llama.cpp: pre-norm blocks, GQA with RoPE in the NORM layout (adjacent
/// pairs), SiLU-gated FFN, optional Q/K/V/O biases, output.weight or the tied token_embd.
final class Llama: SegmentedForward, @unchecked Sendable {
    let config: ModelConfig
    let pool: ThreadPool
    let weights: WeightStore
    let ends: EmbeddingAndHead
    var finalLogitSoftcap: Float? { nil }
    let rope: Rope
    let attention: Attention
    let blocks: [Block]

    struct Block {
        let attentionNorm: UnsafePointer<Float>
        let projections: AttentionProjections
        let bq, bk, bv, bo: UnsafePointer<Float>?
        let ffnNorm: UnsafePointer<Float>
        let ffn: GatedFeedForward
    }

    init(file: GGUFFile, config c: ModelConfig, pool: ThreadPool) throws {
        config = c
        self.pool = pool
        weights = WeightStore(file: file)
        ends = try EmbeddingAndHead(weights)
        rope = Rope(headDim: c.headDim, rotatedDims: c.ropeDimensions, base: Float(c.ropeBase),
                    scalingFactor: c.ropeScalingDivisor, layout: .normal)
        attention = Attention(shape: c.shape, pool: pool)
        blocks = try (0..<c.layers).map { [weights] i in
            let b = "blk.\(i)."
            return Block(
                attentionNorm: try weights.vector(b + "attn_norm.weight"),
                projections: try AttentionProjections(weights, block: b),
                bq: try weights.optionalVector(b + "attn_q.bias"), bk: try weights.optionalVector(b + "attn_k.bias"),
                bv: try weights.optionalVector(b + "attn_v.bias"), bo: try weights.optionalVector(b + "attn_output.bias"),
                ffnNorm: try weights.vector(b + "ffn_norm.weight"),
                ffn: try GatedFeedForward(weights, block: b))
        }
    }

    /// The residual stream of every row ends in w.x.
    var runsLastRowOnly: Bool { false }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace,
                 lastRowOnly: Bool) throws {
        let c = config, plan = matmulPlan(segments), n = tokens.count, d = c.embeddingWidth
        ends.embeddings.dequantizeRows(tokens, into: w.x)

        for (l, b) in blocks.enumerated() {
            // Attention.
            rmsNorm(w.x, b.attentionNorm, into: w.xn, rows: n)
            try project(w.xn, [b.projections.query, b.projections.key, b.projections.value], into: [w.q, w.k, w.v], rows: n, plan: plan)
            if let bq = b.bq { Compute.addBias(bq, to: w.q, rows: n, width: c.heads * c.headDim) }
            if let bk = b.bk { Compute.addBias(bk, to: w.k, rows: n, width: c.kvHeads * c.headDim) }
            if let bv = b.bv { Compute.addBias(bv, to: w.v, rows: n, width: c.kvHeads * c.valueHeadDim) }
            rope.rotate(queries: w.q, heads: c.heads, keys: w.k, kvHeads: c.kvHeads, segments: segments, pool: pool)
            attention.storeKeysAndValues(layer: l, segments: segments, workspace: w)
            attention(layer: l, segments: segments, workspace: w, scale: c.attentionScale)
            try project(w.attn, [b.projections.output], into: [w.o], rows: n, plan: plan)
            if let bo = b.bo { Compute.addBias(bo, to: w.o, rows: n, width: d) }
            Compute.add(w.x, w.o, into: w.x, count: n * d)

            // Feed-forward: SiLU-gated.
            rmsNorm(w.x, b.ffnNorm, into: w.xn, rows: n)
            try project(w.xn, [b.ffn.gate, b.ffn.up], into: [w.gate, w.up], rows: n, plan: plan)
            Compute.swiglu(w.gate, w.up, count: n * c.ffnWidth)
            try project(w.gate, [b.ffn.down], into: [w.o], rows: n, plan: plan)
            Compute.add(w.x, w.o, into: w.x, count: n * d)
        }
        for seg in segments { seg.cache.advance(by: seg.count) }
    }
}
