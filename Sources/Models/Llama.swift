import CKernels
import Compute
import GGUF

/// Llama-family decoder (Llama 2/3, SmolLM2, Mistral Small 3.1 text under `mistral3.`), as in
/// llama.cpp src/models/llama.cpp: pre-norm blocks, GQA with RoPE in the NORM layout (adjacent
/// pairs), SiLU-gated FFN, optional Q/K/V/O biases, output.weight or the tied token_embd.
public final class Llama: LanguageModel, @unchecked Sendable {
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
        try kernels.check(tokens, state: s)
        var done = 0
        while done < tokens.count {
            let n = min(s.chunkSize, tokens.count - done)
            try forward(tokens[done..<(done + n)], state: s)
            let isLast = done + n == tokens.count
            if allLogits || isLast {
                let first = allLogits ? 0 : n - 1
                try logits(rows: first..<n, state: s)
                for r in first..<n {
                    try body(done + r, UnsafeBufferPointer(start: s.logits + (r - first) * config.vocabSize, count: config.vocabSize))
                }
            }
            done += n
        }
    }

    /// One chunk: the residual stream of every token ends in s.x.
    func forward(_ tokens: ArraySlice<Int32>, state s: SequenceState) throws {
        let c = config, pool = kernels.pool, isa = kernels.isa
        let n = tokens.count, d = c.embeddingWidth, start = s.count
        let qw = c.heads * c.headDim, kw = c.kvHeads * c.headDim, vw = c.kvHeads * c.valueHeadDim
        for (r, t) in tokens.enumerated() { embeddings.dequantizeRow(Int(t), into: s.x + r * d) }
        let scale = 1 / Float(c.headDim).squareRoot()

        for (l, b) in blocks.enumerated() {
            kernels.rmsNorm(s.x, b.attentionNorm, into: s.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.wq, b.wk, b.wv], x: s.xn, count: n, outputs: [s.q, s.k, s.v], pool: pool, isa: isa, matchLlamaCpp: true)
            for r in 0..<n {
                if let bq = b.bq { Compute.add(s.q + r * qw, bq, into: s.q + r * qw, count: qw, isa: isa) }
                if let bk = b.bk { Compute.add(s.k + r * kw, bk, into: s.k + r * kw, count: kw, isa: isa) }
                if let bv = b.bv { Compute.add(s.v + r * vw, bv, into: s.v + r * vw, count: vw, isa: isa) }
                fw_rope_llamacpp(s.q + r * qw, Int64(c.heads), Int64(c.headDim), Int64(ropeDims), Int64(start + r), Float(c.ropeBase), ropeScaling, 0)
                fw_rope_llamacpp(s.k + r * kw, Int64(c.kvHeads), Int64(c.headDim), Int64(ropeDims), Int64(start + r), Float(c.ropeBase), ropeScaling, 0)
            }
            kernels.storeKV(layer: l, state: s, start: start, n: n)
            kernels.attention(layer: l, state: s, start: start, n: n, scale: scale)
            try Compute.matmul(weights: b.wo, x: s.attn, count: n, y: s.o, pool: pool, isa: isa, matchLlamaCpp: true)
            for r in 0..<n {
                if let bo = b.bo { Compute.add(s.o + r * d, bo, into: s.o + r * d, count: d, isa: isa) }
            }
            Compute.add(s.x, s.o, into: s.x, count: n * d, isa: isa)

            kernels.rmsNorm(s.x, b.ffnNorm, into: s.xn, rows: n, width: d)
            try Compute.matmul(weights: [b.gate, b.up], x: s.xn, count: n, outputs: [s.gate, s.up], pool: pool, isa: isa, matchLlamaCpp: true)
            fw_swiglu_llamacpp(isa.raw, s.gate, s.up, Int64(n * c.ffnWidth))
            try Compute.matmul(weights: b.down, x: s.gate, count: n, y: s.o, pool: pool, isa: isa, matchLlamaCpp: true)
            Compute.add(s.x, s.o, into: s.x, count: n * d, isa: isa)
        }
        s.advance(by: n)
    }

    /// Logits of chunk rows `rows` into s.logits (packed from row 0).
    func logits(rows: Range<Int>, state s: SequenceState) throws {
        let d = config.embeddingWidth
        kernels.rmsNorm(s.x + rows.lowerBound * d, outputNorm, into: s.xn, rows: rows.count, width: d)
        try Compute.matmul(weights: output, x: s.xn, count: rows.count, y: s.logits, pool: kernels.pool, isa: kernels.isa, matchLlamaCpp: true)
    }
}
