import GGUF

/// One weight tensor of a model, as a GGUF conversion names and shapes it.
public struct TensorShape: Sendable, Equatable {
    public enum Role: String, Sendable { case tokenEmbedding, output, attnQ, attnK, attnV, attnOutput, ffnGate, ffnUp, ffnDown, vector }
    public var name: String
    public var role: Role
    /// Block index, nil for tensors outside the blocks.
    public var layer: Int?
    /// Elements per row (ggml ne[0]: the input width of a projection).
    public var rowWidth: Int
    public var rows: Int
    public var elements: Int { rowWidth * rows }
}

/// Quantization recipes as llama.cpp's `llama-quantize` applies them to a converted F16/BF16 model.
public enum QuantRecipe: String, Codable, Sendable, CaseIterable {
    case q4_k_m
    case q8_0
    case q4_0
    case f16

    public var displayName: String { rawValue.uppercased() }

    public static func parse(_ name: String) -> QuantRecipe? {
        QuantRecipe(rawValue: name.lowercased().replacingOccurrences(of: "-", with: "_"))
    }

    /// The ggml type this recipe gives a tensor. Q4_K_M (llama.cpp src/llama-quant.cpp, described, not copied): Q4_K
    /// everywhere except the output matrix (the token embedding when tied) at Q6_K, and attn_v and ffn_down at Q6_K
    /// in the "more bits" layers: the first eighth, the last eighth, and every third layer in between. A K-quant needs
    /// rows that are whole 256-weight blocks; otherwise llama.cpp falls back: Q4_K → Q5_0, Q6_K → Q8_0.
    /// Q4_0: Q4_0 but the output matrix at Q6_K. One-dimensional tensors (norms, biases) stay F32 in every recipe.
    public func type(for t: TensorShape, layers: Int) -> GGMLType {
        if t.role == .vector { return .f32 }
        switch self {
        case .f16: return .f16
        case .q8_0: return .q8_0
        case .q4_0:
            // Q4_0 everywhere but the output matrix, which gets Q6_K (Q8_0 when its rows are not whole K-blocks).
            guard t.role == .output else { return .q4_0 }
            return t.rowWidth % 256 == 0 ? .q6_K : .q8_0
        case .q4_k_m:
            var type: GGMLType
            switch t.role {
            case .output: type = .q6_K
            case .attnV, .ffnDown: type = Self.usesMoreBits(layer: t.layer ?? 0, layers: layers) ? .q6_K : .q4_K
            default: type = .q4_K
            }
            if t.rowWidth % 256 != 0 { type = type == .q6_K ? .q8_0 : .q5_0 }
            return type
        }
    }

    /// The "more bits" layers of Q4_K_M / Q5_K_M (integer division as in C).
    public static func usesMoreBits(layer i: Int, layers n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i >= n / 8 && (i - n / 8) % 3 == 2)
    }
}

/// Weight bytes of a model from its configuration: the tensors a GGUF conversion writes, each at the type
/// a quantization recipe gives it.
public struct WeightEstimate: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var tensor: TensorShape
        public var type: GGMLType
        public var bytes: Int
    }

    public var recipe: QuantRecipe
    public var entries: [Entry]

    public var bytes: Int { entries.reduce(0) { $0 + $1.bytes } }
    public var parameters: Int { entries.reduce(0) { $0 + $1.tensor.elements } }
    /// Average bits per weight over all tensors (what the recipe costs on this model).
    public var bitsPerWeight: Double { Double(bytes * 8) / Double(parameters) }
    /// Bytes and tensor counts per ggml type.
    public var typeMix: [(type: GGMLType, tensors: Int, bytes: Int)] {
        var mix: [GGMLType: (Int, Int)] = [:]
        for e in entries { mix[e.type, default: (0, 0)].0 += 1; mix[e.type, default: (0, 0)].1 += e.bytes }
        return mix.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.bytes > $1.bytes }
    }

    /// Bytes a decode step reads: every matrix once, but only one row of an untied token-embedding table.
    public var bytesReadPerToken: Int {
        entries.reduce(0) { sum, e in
            e.tensor.role == .tokenEmbedding && hasSeparateOutput ? sum + e.bytes / e.tensor.rows : sum + e.bytes
        }
    }

    var hasSeparateOutput: Bool { entries.contains { $0.tensor.role == .output } }

    public init(facts: ModelFacts, recipe: QuantRecipe) {
        self.recipe = recipe
        entries = Self.tensors(facts).map { t in
            let type = recipe.type(for: t, layers: facts.layers)
            // Every shape here is a whole number of blocks of the chosen type (the fallback guarantees it).
            return Entry(tensor: t, type: type, bytes: type.byteSize(elements: t.elements) ?? 0)
        }
    }

    /// The tensors of the text model, in GGUF order and naming (llama.cpp's convert_hf_to_gguf layout).
    public static func tensors(_ f: ModelFacts, vocabRows: Int? = nil) -> [TensorShape] {
        let h = f.embeddingWidth, q = f.heads * f.headDim, kv = f.kvHeads * f.headDim
        let vocab = vocabRows ?? f.vocabSize
        var t = [TensorShape(name: "token_embd.weight", role: .tokenEmbedding, layer: nil, rowWidth: h, rows: vocab)]
        for i in 0..<f.layers {
            func m(_ n: String, _ role: TensorShape.Role, _ width: Int, _ rows: Int) -> TensorShape {
                TensorShape(name: "blk.\(i).\(n).weight", role: role, layer: i, rowWidth: width, rows: rows)
            }
            func v(_ n: String, _ width: Int, bias: Bool = false) -> TensorShape {
                TensorShape(name: "blk.\(i).\(n).\(bias ? "bias" : "weight")", role: .vector, layer: i, rowWidth: width, rows: 1)
            }
            t.append(v("attn_norm", h))
            t += [m("attn_q", .attnQ, h, q), m("attn_k", .attnK, h, kv), m("attn_v", .attnV, h, kv)]
            if f.attentionBias { t += [v("attn_q", q, bias: true), v("attn_k", kv, bias: true), v("attn_v", kv, bias: true)] }
            if f.architecture == "gemma3" { t += [v("attn_q_norm", f.headDim), v("attn_k_norm", f.headDim)] }
            t.append(m("attn_output", .attnOutput, q, h))
            if f.architecture == "gemma3" { t.append(v("post_attention_norm", h)) }
            t.append(v("ffn_norm", h))
            t += [m("ffn_gate", .ffnGate, h, f.ffnWidth), m("ffn_up", .ffnUp, h, f.ffnWidth), m("ffn_down", .ffnDown, f.ffnWidth, h)]
            if f.architecture == "gemma3" { t.append(v("post_ffw_norm", h)) }
        }
        t.append(TensorShape(name: "output_norm.weight", role: .vector, layer: nil, rowWidth: h, rows: 1))
        if f.tiedEmbeddings {
            // The tied embedding doubles as the output matrix; llama.cpp quantizes it as the output.
            t[0].role = .output
        } else {
            t.append(TensorShape(name: "output.weight", role: .output, layer: nil, rowWidth: h, rows: vocab))
        }
        // Llama 3.x's position scaling travels as per-frequency divisors (convert_hf_to_gguf.py's rope_freqs).
        if f.ropeScalingType == "llama3" {
            t.append(TensorShape(name: "rope_freqs.weight", role: .vector, layer: nil, rowWidth: f.headDim / 2, rows: 1))
        }
        return t
    }

    /// Parameters of the text model (rope_freqs, derived from the configuration, is not one); with the checkpoint's
    /// vocabulary rows this is what the publisher counts.
    public static func textParameters(_ f: ModelFacts, vocabRows: Int? = nil) -> Int {
        tensors(f, vocabRows: vocabRows).reduce(0) { $0 + ($1.name == "rope_freqs.weight" ? 0 : $1.elements) }
    }
}
