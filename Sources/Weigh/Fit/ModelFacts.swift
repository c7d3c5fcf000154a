/// The architectural facts that fit, speed-of-light and compare need about one model, from a
/// GGUF file on disk or from the catalog of published configurations.
public struct ModelFacts: Codable, Sendable, Equatable {
    /// Catalog id ("gemma-3-27b") or the name given on the command line.
    public var id: String
    public var displayName: String
    /// Text architecture as llama.cpp names it: "gemma3", "llama", "qwen2", "mistral3".
    public var architecture: String
    public var layers: Int
    public var embeddingWidth: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ffnWidth: Int
    /// Rows of the token-embedding matrix (the GGUF's token count).
    public var vocabSize: Int
    public var contextLength: Int
    /// Tokens a sliding-window layer keeps; nil when every layer attends to the whole context.
    public var slidingWindow: Int?
    /// Which layers use the sliding window (empty when none do).
    public var slidingLayers: [Int]
    /// Output projection shares the token-embedding matrix.
    public var tiedEmbeddings: Bool
    /// Q/K/V projections carry biases (Qwen 2.x).
    public var attentionBias: Bool
    public var modalities: [String]
    public var licence: String?
    /// Parameter count as the publisher states it (vision encoder included where there is one).
    public var publishedParameters: Int?
    /// Parameters of the vision encoder and projector (not in the text GGUF; llama.cpp loads them from an mmproj file).
    public var visionParameters: Int?
    /// Rows of the embedding matrix in the published checkpoint when it differs from `vocabSize`
    /// (Gemma 3 4B+: 262208, padded for image tokens); used to reproduce the published parameter count.
    public var checkpointVocabSize: Int?
    /// Where the facts come from: the config.json URL for catalog models, the path for files.
    public var source: String
    public var notes: [String]
    /// RoPE base (config.json `rope_theta`; Gemma 3's sliding-window layers use 10,000 whatever this is).
    public var ropeBase: Double?
    /// Position scaling of RoPE as config.json `rope_scaling` gives it: "linear" (Gemma 3 4B+) or "llama3".
    public var ropeScalingType: String?
    public var ropeScalingFactor: Double?
    /// RMS norm epsilon (config.json `rms_norm_eps`).
    public var normEpsilon: Double?

    public init(id: String, displayName: String, architecture: String, layers: Int, embeddingWidth: Int, heads: Int,
                kvHeads: Int, headDim: Int, ffnWidth: Int, vocabSize: Int, contextLength: Int, slidingWindow: Int? = nil,
                slidingLayers: [Int] = [], tiedEmbeddings: Bool, attentionBias: Bool = false, modalities: [String] = ["text"],
                licence: String?, publishedParameters: Int? = nil, visionParameters: Int? = nil, checkpointVocabSize: Int? = nil, source: String,
                notes: [String] = [], ropeBase: Double? = nil, ropeScalingType: String? = nil, ropeScalingFactor: Double? = nil,
                normEpsilon: Double? = nil) {
        self.id = id
        self.displayName = displayName
        self.architecture = architecture
        self.layers = layers
        self.embeddingWidth = embeddingWidth
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.ffnWidth = ffnWidth
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
        self.modalities = modalities
        self.licence = licence
        self.publishedParameters = publishedParameters
        self.visionParameters = visionParameters
        self.checkpointVocabSize = checkpointVocabSize
        self.source = source
        self.notes = notes
        self.ropeBase = ropeBase
        self.ropeScalingType = ropeScalingType
        self.ropeScalingFactor = ropeScalingFactor
        self.normEpsilon = normEpsilon
    }

    /// Gemma 3's layer pattern: five sliding-window layers, then one global (layer i is local iff i % 6 < 5).
    public static func gemma3SlidingLayers(_ layers: Int) -> [Int] { (0..<layers).filter { $0 % 6 < 5 } }

    public var globalLayerCount: Int { layers - slidingLayers.count }

    /// Bytes one token takes in one layer's K and V cache, at `bytesPerElement` (2 for F16).
    public func kvBytesPerTokenPerLayer(_ kv: KVCacheElement = .f16) -> Double {
        Double(kvHeads * headDim * 2) * kv.bytesPerElement
    }

    /// K and V cache for `tokens` tokens: sliding-window layers keep only their window.
    public func kvCacheBytes(tokens: Int, type kv: KVCacheElement = .f16) -> Int {
        let perLayer = kvBytesPerTokenPerLayer(kv)
        let sliding = Double(slidingLayers.count) * perLayer * Double(min(tokens, slidingWindow ?? tokens))
        let global = Double(globalLayerCount) * perLayer * Double(tokens)
        return Int((sliding + global).rounded())
    }

    /// The same if every layer kept every token (what naive estimates assume).
    public func naiveKVCacheBytes(tokens: Int, type kv: KVCacheElement = .f16) -> Int {
        Int((Double(layers) * kvBytesPerTokenPerLayer(kv) * Double(tokens)).rounded())
    }
}

/// Element type of the KV cache.
public enum KVCacheElement: String, Codable, Sendable, CaseIterable {
    case f16
    case q8_0

    /// Q8_0 block: 32 values in 34 bytes (ggml-common.h block_q8_0).
    public var bytesPerElement: Double {
        switch self {
        case .f16: 2
        case .q8_0: 34.0 / 32.0
        }
    }
}
