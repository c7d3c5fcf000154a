import GGUF
import Models

/// What `feather inspect` reports about one model file. Stable JSON (schemaVersion 1); fields
/// that the file does not say are null.
public struct ModelInspection: Codable, Sendable, Equatable {
    public static let schemaVersion = 1

    public struct TypeShare: Codable, Sendable, Equatable {
        /// ggml type name: "f32", "q4_K", ...
        public var type: String
        public var tensors: Int
        public var bytes: Int
    }

    public struct KVCache: Codable, Sendable, Equatable {
        /// Bytes per token at F16 summed over full-attention layers.
        public var bytesPerTokenGlobalLayers: Int
        /// Bytes per token at F16 summed over sliding-window layers (each capped at `slidingWindow` tokens).
        public var bytesPerTokenSlidingLayers: Int
        /// Bytes per token while the context is shorter than the window (every layer stores every token).
        public var bytesPerTokenWithinWindow: Int
        /// Total F16 cache at the full context length, sliding-window aware.
        public var bytesAtContextLength: Int
        /// The same if every layer kept every token (what naive estimates assume).
        public var naiveBytesAtContextLength: Int
    }

    public var schemaVersion = ModelInspection.schemaVersion
    public var path: String
    public var fileSize: Int
    public var ggufVersion: Int
    public var architecture: String?
    public var name: String?
    public var sizeLabel: String?
    public var license: String?
    public var fileType: String?
    public var parameterCount: Int
    public var tensorCount: Int
    public var quantization: [TypeShare]
    public var contextLength: Int?
    public var layers: Int?
    public var embeddingWidth: Int?
    public var heads: Int?
    public var kvHeads: Int?
    public var headDim: Int?
    public var ffnWidth: Int?
    public var vocabSize: Int?
    public var tokenizerModel: String?
    public var tokenizerPre: String?
    public var ropeBase: Double?
    public var ropeBaseLocal: Double?
    public var ropeScalingType: String?
    public var ropeScalingFactor: Double?
    public var slidingWindow: Int?
    public var slidingWindowLayers: [Int]
    public var hasChatTemplate: Bool
    /// The template `feather chat` uses: "model" (the file's own), else the architecture's fallback,
    /// "built-in gemma" or "built-in chatml" (the same rule as Engine's ChatFormatter.builtIn).
    public var chatTemplate: String
    public var modalities: [String]
    public var kvCache: KVCache?
    /// Why the hyperparameters could not be read, when they could not.
    public var configError: String?
    /// Tensor types present that Featherweight cannot compute with.
    public var unsupportedTypes: [String]
    /// Set when the weights are random (`feather synthesize`): speed and memory only.
    public var synthetic: SyntheticMark?

    /// What the model file at `path` holds.
    public init(path: String) throws {
        self.init(file: try GGUFFile(path: path))
    }

    public init(file: GGUFFile) {
        path = file.path
        fileSize = file.fileSize
        ggufVersion = Int(file.version)
        architecture = file.architecture
        name = file.string("general.name")
        synthetic = SyntheticMark(file: file)
        sizeLabel = file.string("general.size_label")
        license = file.string("general.license")
        fileType = file.int("general.file_type").map(Self.fileTypeName)
        parameterCount = file.tensors.reduce(0) { $0 + $1.elementCount }
        tensorCount = file.tensors.count

        var shares: [GGMLType: TypeShare] = [:]
        for t in file.tensors {
            shares[t.type, default: TypeShare(type: t.type.name, tensors: 0, bytes: 0)].tensors += 1
            shares[t.type]!.bytes += t.byteSize
        }
        quantization = shares.values.sorted { $0.bytes > $1.bytes }
        unsupportedTypes = shares.keys.filter { !$0.isSupported }.map(\.name).sorted()

        tokenizerModel = file.string("tokenizer.ggml.model")
        tokenizerPre = file.string("tokenizer.ggml.pre")
        hasChatTemplate = !(file.string("tokenizer.chat_template") ?? "").isEmpty
        chatTemplate = hasChatTemplate ? "model" : (file.architecture ?? "").hasPrefix("gemma") ? "built-in gemma" : "built-in chatml"
        let vision = file.tensors.contains { $0.name.hasPrefix("v.") || $0.name.hasPrefix("mm.") }
            || file.metadata.contains { $0.key.hasPrefix("clip.vision") }
        let audio = file.tensors.contains { $0.name.hasPrefix("a.") } || file.metadata.contains { $0.key.hasPrefix("clip.audio") }
        modalities = ["text"] + (vision ? ["image"] : []) + (audio ? ["audio"] : [])

        slidingWindowLayers = []
        do {
            let c = try ModelConfig(gguf: file)
            contextLength = c.contextLength
            layers = c.layers
            embeddingWidth = c.embeddingWidth
            heads = c.heads
            kvHeads = c.kvHeads
            headDim = c.headDim
            ffnWidth = c.ffnWidth
            vocabSize = c.vocabSize
            ropeBase = c.ropeBase
            ropeBaseLocal = c.localRopeBase
            ropeScalingType = c.ropeScalingType
            ropeScalingFactor = c.ropeScalingFactor
            slidingWindow = c.slidingWindow
            slidingWindowLayers = c.slidingLayerIndices
            let perLayer = c.kvBytesPerTokenPerLayer()
            let slidingCount = slidingWindowLayers.count
            kvCache = KVCache(
                bytesPerTokenGlobalLayers: perLayer * (c.layers - slidingCount),
                bytesPerTokenSlidingLayers: perLayer * slidingCount,
                bytesPerTokenWithinWindow: perLayer * c.layers,
                bytesAtContextLength: c.kvCacheBytes(tokens: c.contextLength),
                naiveBytesAtContextLength: perLayer * c.layers * c.contextLength)
        } catch {
            configError = error.description
            vocabSize = file.array("tokenizer.ggml.tokens")?.count
        }
    }

    /// llama.cpp's `enum llama_ftype` names (general.file_type).
    public static func fileTypeName(_ id: Int) -> String {
        let names: [Int: String] = [
            0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
            11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
            18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
            25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
            32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
        ]
        return names[id] ?? "unknown (\(id))"
    }
}
