import GGUF
import SeededRandom

/// Small GGUF models with random weights and the shapes and metadata quirks of real ones, written
/// with `GGUFWriter`: the models that cannot be downloaded here are proven on these instead.
public struct SyntheticModel: Sendable {
    public enum Architecture: String, Sendable, CaseIterable {
        /// Llama layout (SmolLM2, Llama 3) under the `llama.` prefix.
        case llama
        /// Mistral Small 3.1 text model under the `mistral3.` prefix.
        case mistral3
        case gemma3
    }

    public var architecture: Architecture
    public var layers = 2
    public var embeddingWidth = 64
    public var heads = 4
    public var kvHeads = 2
    /// Nil: embeddingWidth / heads. Mistral Small 3.1 sets 128 while 5120 / 32 = 160.
    public var headDim: Int? = nil
    public var ffnWidth = 128
    public var contextLength = 256
    public var ropeBase: Float = 10_000
    public var ropeScalingFactor: Float? = nil
    public var slidingWindow: Int? = nil
    public var seed: UInt64 = 1

    public init(_ architecture: Architecture) {
        self.architecture = architecture
    }

    /// An SPM-style vocabulary: <pad>, <unk>, <s>, </s>, the 256 byte tokens, then a few pieces.
    public static let vocabulary: [String] = {
        var tokens = ["<pad>", "<unk>", "<s>", "</s>"]
        tokens += (0..<256).map { "<0x" + String($0, radix: 16, uppercase: true).leftPadded(2) + ">" }
        tokens += ["▁", "▁the", "▁a", "e", "t", "▁model", "ing", "▁of"]
        return tokens
    }()

    public func writer() throws(GGUFError) -> GGUFWriter {
        let arch = architecture.rawValue
        let headDim = self.headDim ?? embeddingWidth / heads
        var w = GGUFWriter()
        var rng = SplitMix64(seed: seed)
        w.set("general.architecture", arch)
        w.set("general.name", "synthetic-\(arch)")
        w.set("general.file_type", uint32: 0)
        w.set("\(arch).context_length", uint32: contextLength)
        w.set("\(arch).embedding_length", uint32: embeddingWidth)
        w.set("\(arch).block_count", uint32: layers)
        w.set("\(arch).feed_forward_length", uint32: ffnWidth)
        w.set("\(arch).attention.head_count", uint32: heads)
        w.set("\(arch).attention.head_count_kv", uint32: kvHeads)
        w.set("\(arch).rope.freq_base", float32: ropeBase)
        w.set("\(arch).attention.layer_norm_rms_epsilon", float32: 1e-6)
        if self.headDim != nil {
            w.set("\(arch).attention.key_length", uint32: headDim)
            w.set("\(arch).attention.value_length", uint32: headDim)
        }
        if architecture != .gemma3 { w.set("\(arch).rope.dimension_count", uint32: headDim) }
        if let f = ropeScalingFactor {
            w.set("\(arch).rope.scaling.type", "linear")
            w.set("\(arch).rope.scaling.factor", float32: f)
        }
        if let window = slidingWindow { w.set("\(arch).attention.sliding_window", uint32: window) }

        let vocab = Self.vocabulary
        w.set("tokenizer.ggml.model", "llama")
        w.set("tokenizer.ggml.tokens", .array(.string(vocab)))
        w.set("tokenizer.ggml.scores", .array(.float32(vocab.indices.map { -Float($0) })))
        // Token types (llama.cpp LLAMA_TOKEN_TYPE_*): 1 normal, 2 unknown, 3 control, 6 byte.
        w.set("tokenizer.ggml.token_type", .array(.int32(vocab.indices.map { i in
            i == 1 ? 2 : i < 4 ? 3 : i < 260 ? 6 : 1
        })))
        w.set("tokenizer.ggml.bos_token_id", uint32: 2)
        w.set("tokenizer.ggml.eos_token_id", uint32: 3)
        w.set("tokenizer.ggml.unknown_token_id", uint32: 1)
        w.set("tokenizer.ggml.padding_token_id", uint32: 0)

        func weights(_ name: String, _ shape: [Int], scale: Float = 0.1) throws(GGUFError) {
            try w.addTensor(name: name, shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.uniform() * scale })
        }
        func ones(_ name: String, _ n: Int) throws(GGUFError) {
            try w.addTensor(name: name, shape: [n], floats: (0..<n).map { _ in 1 + rng.uniform() * 0.1 })
        }
        let n = embeddingWidth
        try weights("token_embd.weight", [n, vocab.count], scale: 1)
        for i in 0..<layers {
            let b = "blk.\(i)."
            try ones(b + "attn_norm.weight", n)
            try weights(b + "attn_q.weight", [n, heads * headDim])
            try weights(b + "attn_k.weight", [n, kvHeads * headDim])
            try weights(b + "attn_v.weight", [n, kvHeads * headDim])
            try weights(b + "attn_output.weight", [heads * headDim, n])
            try ones(b + "ffn_norm.weight", n)
            try weights(b + "ffn_gate.weight", [n, ffnWidth])
            try weights(b + "ffn_up.weight", [n, ffnWidth])
            try weights(b + "ffn_down.weight", [ffnWidth, n])
            if architecture == .gemma3 {
                try ones(b + "attn_q_norm.weight", headDim)
                try ones(b + "attn_k_norm.weight", headDim)
                try ones(b + "post_attention_norm.weight", n)
                try ones(b + "post_ffw_norm.weight", n)
            }
        }
        try ones("output_norm.weight", n)
        // Gemma 3 ties the output projection to token_embd; the others carry their own.
        if architecture != .gemma3 { try weights("output.weight", [n, vocab.count]) }
        return w
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension SplitMix64 {
    /// Uniform in [-1, 1), from the top 24 bits.
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
