import CKernels
import Compute
import GGUF

/// Llama-family decoder (Llama 2/3, SmolLM2, Mistral Small 3.1 text under `mistral3.`), as in
/// llama.cpp src/models/llama.cpp: pre-norm blocks, GQA with RoPE in the NORM layout (adjacent
/// pairs), SiLU-gated FFN, optional Q/K/V/O biases, output.weight or the tied token_embd.
public final class Llama: SegmentedForward, @unchecked Sendable {
    public let config: ModelConfig
    let weights: WeightStore
    let kernels: Kernels
    let embeddings: QuantizedMatrix
    let outputNorm: UnsafePointer<Float>
    let output: QuantizedMatrix
    let blocks: [Block]
    /// Dimensions of each head that rotate (`rope.dimension_count`, else the whole head).
    let ropeDims: Int
    let ropeScaling: Float

    struct Block {
        let attentionNorm: UnsafePointer<Float>
        let wq, wk, wv, wo: QuantizedMatrix
        let bq, bk, bv, bo: UnsafePointer<Float>?
        let ffnNorm: UnsafePointer<Float>
        let gate, up, down: QuantizedMatrix
    }

    init(file: GGUFFile, config: ModelConfig, pool: ThreadPool) throws {
        self.config = config
        weights = WeightStore(file: file)
        kernels = Kernels(config: config, pool: pool)
        embeddings = try weights.matrix("token_embd.weight")
        outputNorm = try weights.vector("output_norm.weight")
        output = weights.has("output.weight") ? try weights.matrix("output.weight") : embeddings
        ropeDims = file.int("\(config.architecture).rope.dimension_count") ?? config.headDim
        ropeScaling = config.ropeScalingType == "linear" ? Float(config.ropeScalingFactor ?? 1) : 1
        var blocks: [Block] = []
        for i in 0..<config.layers {
            let b = "blk.\(i)."
            blocks.append(Block(
                attentionNorm: try weights.vector(b + "attn_norm.weight"),
                wq: try weights.matrix(b + "attn_q.weight"), wk: try weights.matrix(b + "attn_k.weight"),
                wv: try weights.matrix(b + "attn_v.weight"), wo: try weights.matrix(b + "attn_output.weight"),
                bq: try weights.optionalVector(b + "attn_q.bias"), bk: try weights.optionalVector(b + "attn_k.bias"),
                bv: try weights.optionalVector(b + "attn_v.bias"), bo: try weights.optionalVector(b + "attn_output.bias"),
                ffnNorm: try weights.vector(b + "ffn_norm.weight"),
                gate: try weights.matrix(b + "ffn_gate.weight"), up: try weights.matrix(b + "ffn_up.weight"),
                down: try weights.matrix(b + "ffn_down.weight")))
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

    /// The residual stream of every row ends in w.x.
    var runsLastRowOnly: Bool { false }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace,
                 lastRowOnly: Bool) throws {
        let c = config, pool = kernels.pool, isa = kernels.isa
        // Rows of several sequences (batched decode): each as if it ran alone.
        let batch = segments.count > 1
        let n = tokens.count, d = c.embeddingWidth
        let qw = c.heads * c.headDim, kw = c.kvHeads * c.headDim, vw = c.kvHeads * c.valueHeadDim
        for (r, t) in tokens.enumerated() { embeddings.dequantizeRow(Int(t), into: w.x + r * d) }
        let scale = 1 / Float(c.headDim).squareRoot()

        for (l, b) in blocks.enumerated() {
            kernels.rmsNorm(w.x, b.attentionNorm, into: w.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.wq, b.wk, b.wv], x: w.xn, count: n, outputs: [w.q, w.k, w.v], pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            kernels.forEachRow(segments) { r, position in
                if let bq = b.bq { Compute.add(w.q + r * qw, bq, into: w.q + r * qw, count: qw, isa: isa) }
                if let bk = b.bk { Compute.add(w.k + r * kw, bk, into: w.k + r * kw, count: kw, isa: isa) }
                if let bv = b.bv { Compute.add(w.v + r * vw, bv, into: w.v + r * vw, count: vw, isa: isa) }
                fw_rope_llamacpp(w.q + r * qw, Int64(c.heads), Int64(c.headDim), Int64(ropeDims), Int64(position), Float(c.ropeBase), ropeScaling, 0)
                fw_rope_llamacpp(w.k + r * kw, Int64(c.kvHeads), Int64(c.headDim), Int64(ropeDims), Int64(position), Float(c.ropeBase), ropeScaling, 0)
            }
            for seg in segments { kernels.storeKV(layer: l, segment: seg, workspace: w) }
            kernels.attention(layer: l, segments: segments, workspace: w, scale: scale)
            try Compute.matmul(weights: b.wo, x: w.attn, count: n, y: w.o, pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            for r in 0..<n {
                if let bo = b.bo { Compute.add(w.o + r * d, bo, into: w.o + r * d, count: d, isa: isa) }
            }
            Compute.add(w.x, w.o, into: w.x, count: n * d, isa: isa)

            kernels.rmsNorm(w.x, b.ffnNorm, into: w.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.gate, b.up], x: w.xn, count: n, outputs: [w.gate, w.up], pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            fw_swiglu_llamacpp(isa.raw, w.gate, w.up, Int64(n * c.ffnWidth))
            try Compute.matmul(weights: b.down, x: w.gate, count: n, y: w.o, pool: pool, isa: isa, matchLlamaCpp: true, independentRows: batch)
            Compute.add(w.x, w.o, into: w.x, count: n * d, isa: isa)
        }
        for seg in segments { seg.state.advance(by: seg.count) }
    }

    /// Logits of workspace rows `rows` into w.logits (packed from row 0).
    func logits(rows: Range<Int>, workspace w: Workspace, independentRows: Bool) throws {
        let d = config.embeddingWidth
        kernels.rmsNorm(w.x + rows.lowerBound * d, outputNorm, into: w.xn, rows: rows.count, width: d)
        try Compute.matmul(weights: output, x: w.xn, count: rows.count, y: w.logits, pool: kernels.pool, isa: kernels.isa, matchLlamaCpp: true,
                           independentRows: independentRows)
    }
}
