import Compute
import GGUF

/// Errors in a model's configuration, as read from its GGUF metadata.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingArchitecture
    case unsupportedArchitecture(String)
    case missingHyperparameter(String)
    case badHyperparameter(key: String, reason: String)
    case modelNotFound(name: String, searched: [String])
    case ambiguousModel(name: String, candidates: [String])
    /// The name is a folder (a model is one .gguf file).
    case isDirectory(String)

    public var description: String {
        switch self {
        case .missingArchitecture:
            "model file has no general.architecture key"
        case .unsupportedArchitecture(let a):
            "architecture '\(a)' is not supported (supported: \(ModelConfig.supportedArchitectures.joined(separator: ", ")))"
        case .missingHyperparameter(let key):
            "model file lacks the hyperparameter '\(key)'"
        case .badHyperparameter(let key, let reason):
            "bad hyperparameter '\(key)': \(reason)"
        case .modelNotFound(let name, let searched):
            "model '\(name)' not found (looked for \(searched.joined(separator: ", "))); run scripts/fetch-models.sh, feather pull OWNER/REPO:QUANT, or give a .gguf path"
        case .ambiguousModel(let name, let candidates):
            "'\(name)' names several models: \(candidates.joined(separator: "; ")); name one of them or give its path"
        case .isDirectory(let path):
            "'\(path)' is a directory, not a .gguf model file"
        }
    }
}

/// The hyperparameters of a decoder-only transformer, read once from GGUF metadata.
/// GGUF key names appear only here, in `init(gguf:)`.
public struct ModelConfig: Sendable, Codable, Equatable {
    public static let supportedArchitectures = ["gemma3", "llama", "mistral3"]

    public var architecture: String
    public var contextLength: Int
    public var embeddingWidth: Int
    public var layers: Int
    public var ffnWidth: Int
    public var heads: Int
    public var kvHeads: Int
    /// Width of one key head; differs from embeddingWidth / heads on Mistral Small 3.1 (128 vs 160).
    public var headDim: Int
    public var valueHeadDim: Int
    public var vocabSize: Int
    public var normEpsilon: Double
    /// RoPE base of global (full-attention) layers.
    public var ropeBase: Double
    /// RoPE base of sliding-window layers, when they use their own (Gemma 3: 10,000, unscaled).
    public var localRopeBase: Double?
    public var ropeScalingType: String?
    public var ropeScalingFactor: Double?
    /// Dimensions of each head that RoPE rotates (`rope.dimension_count`, else the whole head).
    public var ropeDimensions: Int
    /// Tokens a sliding-window layer attends to; nil when every layer is global.
    public var slidingWindow: Int?
    /// For each layer, whether it uses the sliding window.
    public var slidingLayers: [Bool]
    public var finalLogitSoftcap: Double?
    /// The width whose inverse square root scales q·k: the head width, except for Gemma 3 27B
    /// (62 layers), which llama.cpp scales by n_embd / n_head (llama-model.cpp, LLM_ARCH_GEMMA3).
    public var queryScaleWidth: Int

    public init(gguf file: GGUFFile) throws(ModelError) {
        guard let arch = file.architecture else { throw .missingArchitecture }
        architecture = arch

        func required(_ name: String) throws(ModelError) -> Int {
            let key = "\(arch).\(name)"
            guard let value = file[key] else { throw .missingHyperparameter(key) }
            if let v = value.int { return v }
            // Some converters write per-layer arrays (e.g. head_count_kv); all layers must agree here.
            if let values = value.array?.ints, let first = values.first, values.allSatisfy({ $0 == first }) { return first }
            throw .badHyperparameter(key: key, reason: "expected one integer")
        }
        func optional(_ name: String) -> Double? { file.double("\(arch).\(name)") }

        contextLength = try required("context_length")
        embeddingWidth = try required("embedding_length")
        layers = try required("block_count")
        ffnWidth = try required("feed_forward_length")
        heads = try required("attention.head_count")
        kvHeads = file["\(arch).attention.head_count_kv"] == nil ? heads : try required("attention.head_count_kv")
        for (key, value) in [("embedding_length", embeddingWidth), ("block_count", layers), ("attention.head_count", heads),
                             ("attention.head_count_kv", kvHeads), ("context_length", contextLength)] where value <= 0 {
            throw .badHyperparameter(key: "\(arch).\(key)", reason: "must be positive, is \(value)")
        }
        guard heads % kvHeads == 0 else {
            throw .badHyperparameter(key: "\(arch).attention.head_count_kv", reason: "\(kvHeads) does not divide the head count \(heads)")
        }
        headDim = file["\(arch).attention.key_length"] == nil ? embeddingWidth / heads : try required("attention.key_length")
        valueHeadDim = file["\(arch).attention.value_length"] == nil ? headDim : try required("attention.value_length")

        if let n = file.int("\(arch).vocab_size") {
            vocabSize = n
        } else if let tokens = file.array("tokenizer.ggml.tokens") {
            vocabSize = tokens.count
        } else {
            throw .missingHyperparameter("\(arch).vocab_size")
        }
        normEpsilon = optional("attention.layer_norm_rms_epsilon") ?? optional("attention.layer_norm_epsilon") ?? 1e-5
        ropeBase = optional("rope.freq_base") ?? 10_000
        ropeScalingType = file.string("\(arch).rope.scaling.type")
        ropeScalingFactor = optional("rope.scaling.factor")
        ropeDimensions = file.int("\(arch).rope.dimension_count") ?? headDim
        finalLogitSoftcap = optional("final_logit_softcapping")
        queryScaleWidth = arch == "gemma3" && layers == 62 ? embeddingWidth / heads : headDim

        let window = file.int("\(arch).attention.sliding_window")
        slidingWindow = window.flatMap { $0 > 0 ? $0 : nil }
        if arch == "gemma3", slidingWindow != nil {
            // Gemma 3: five local layers, then one global (llama.cpp: swa pattern 6, layer i local iff i % 6 < 5).
            let pattern = file.int("\(arch).attention.sliding_window_pattern") ?? 6
            slidingLayers = (0..<layers).map { pattern > 0 ? $0 % pattern < pattern - 1 : false }
            localRopeBase = 10_000
        } else if let flags = file.array("\(arch).attention.sliding_window_pattern"), case .bool(let bools) = flags,
                  bools.count == layers, slidingWindow != nil {
            slidingLayers = bools
            localRopeBase = nil
        } else {
            slidingLayers = Array(repeating: slidingWindow != nil, count: layers)
            localRopeBase = nil
        }
    }

    /// Factor positions are divided by in global layers' RoPE (linear scaling), else 1.
    public var ropeScalingDivisor: Float { ropeScalingType == "linear" ? Float(ropeScalingFactor ?? 1) : 1 }

    /// q·k is scaled by this before the softmax.
    public var attentionScale: Float { 1 / Float(queryScaleWidth).squareRoot() }

    /// The sizes of this model's scratch and KV cache.
    public var shape: TransformerShape {
        TransformerShape(embeddingWidth: embeddingWidth, ffnWidth: ffnWidth, vocabSize: vocabSize, heads: heads,
                         kvHeads: kvHeads, headDim: headDim, valueHeadDim: valueHeadDim,
                         layerWindows: slidingLayers.map { $0 ? slidingWindow : nil })
    }

    /// Whether the architecture has a forward pass in Featherweight.
    public var isSupported: Bool { Self.supportedArchitectures.contains(architecture) }

    public var slidingLayerIndices: [Int] { slidingLayers.indices.filter { slidingLayers[$0] } }

    /// KV-cache bytes per token of one layer with `bytesPerElement`-byte elements (2 for F16).
    public func kvBytesPerTokenPerLayer(bytesPerElement: Int = 2) -> Int {
        kvHeads * (headDim + valueHeadDim) * bytesPerElement
    }

    /// KV-cache bytes for `tokens` tokens: sliding-window layers keep only the window.
    public func kvCacheBytes(tokens: Int, bytesPerElement: Int = 2) -> Int {
        let perLayer = kvBytesPerTokenPerLayer(bytesPerElement: bytesPerElement)
        return slidingLayers.reduce(0) { sum, sliding in
            sum + perLayer * (sliding ? min(tokens, slidingWindow ?? tokens) : tokens)
        }
    }
}
