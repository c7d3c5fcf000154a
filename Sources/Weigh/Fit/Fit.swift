import GGUF

/// The weights of one model at one quantization: read from a GGUF file's own tensor table, or
/// estimated from the published configuration with a quantization recipe.
public struct WeightsSummary: Codable, Sendable, Equatable {
    /// "Q4_K_M", "Q8_0", "F16" (a recipe), or the file type of a GGUF ("Q4_K_M (file)").
    public var quant: String
    public var bytes: Int
    /// Bytes one decode step reads (every matrix once, one row of an untied token-embedding table).
    public var bytesReadPerToken: Int
    public var parameters: Int
    public var bitsPerWeight: Double
    /// True when the figures are the file's own tensor sizes.
    public var fromFile: Bool
    public var typeMix: [ModelInspection.TypeShare]

    public init(estimate: WeightEstimate) {
        quant = estimate.recipe.displayName
        bytes = estimate.bytes
        bytesReadPerToken = estimate.bytesReadPerToken
        parameters = estimate.parameters
        bitsPerWeight = estimate.bitsPerWeight
        fromFile = false
        typeMix = estimate.typeMix.map { .init(type: $0.type.name, tensors: $0.tensors, bytes: $0.bytes) }
    }

    public init(file: GGUFFile) {
        let inspection = ModelInspection(file: file)
        quant = (inspection.fileType ?? "unknown") + " (file)"
        bytes = file.tensors.reduce(0) { $0 + $1.byteSize }
        parameters = inspection.parameterCount
        bitsPerWeight = parameters > 0 ? Double(bytes * 8) / Double(parameters) : 0
        fromFile = true
        typeMix = inspection.quantization
        let hasOutput = file.tensors.contains { $0.name == "output.weight" }
        bytesReadPerToken = file.tensors.reduce(0) { sum, t in
            guard t.name == "token_embd.weight", hasOutput, let rows = t.shape.last, rows > 0 else { return sum + t.byteSize }
            return sum + t.byteSize / rows
        }
    }
}

/// Memory a model needs on one machine at one context length, whether that fits, the largest
/// context that fits, and the decode speed memory bandwidth allows.
public struct FitRow: Codable, Sendable, Equatable {
    public var model: String
    public var hardware: String
    public var quant: String
    public var contextLength: Int
    public var kvType: KVCacheElement
    public var weightsBytes: Int
    public var kvCacheBytes: Int
    public var computeBufferBytes: Int
    public var runtimeOverheadBytes: Int
    public var totalBytes: Int
    public var usableBytes: Int
    public var fits: Bool
    /// Largest context (≤ the model's) whose total fits; 0 when the weights alone do not fit.
    public var maxContextThatFits: Int
    /// Bytes read per generated token at `contextLength`: weights read per token + the whole KV cache.
    public var bytesReadPerToken: Int
    public var bandwidthBytesPerSecond: Double
    /// bandwidth / bytesReadPerToken: no decoder on this machine can beat it at batch size 1.
    public var decodeTokensPerSecondUpperBound: Double
}

/// How much memory a model needs. Formulas (every term is shown by `feather fit --verbose`):
/// - weights: the GGUF's tensor bytes, or the recipe's per-tensor types × shapes from the configuration;
/// - KV cache: layers × KV heads × head dim × 2 (K and V) × bytes per element × tokens, where a sliding-window
///   layer holds at most its window (Gemma 3: 5 of every 6 layers);
/// - compute buffer (llama.cpp with flash attention, micro-batch u = 512): 4 bytes × u × (vocabulary + 2 × FFN width
///   + 3 × embedding width) for the logits and the widest activations, plus a 2-byte u × context attention mask;
/// - runtime overhead: a fixed allowance per kind of machine (`HardwareCatalog`).
/// Decode upper bound ("speed of light") = memory bandwidth / (weight bytes read per token + KV cache bytes).
public enum FitCalculator {
    public static let microBatch = 512

    public static func computeBufferBytes(_ f: ModelFacts, context: Int) -> Int {
        4 * microBatch * (f.vocabSize + 2 * f.ffnWidth + 3 * f.embeddingWidth) + 2 * microBatch * context
    }

    public static func totalBytes(_ f: ModelFacts, weights: WeightsSummary, hardware: Hardware, context: Int,
                                  kv: KVCacheElement) -> Int {
        weights.bytes + f.kvCacheBytes(tokens: context, type: kv) + computeBufferBytes(f, context: context) + hardware.runtimeOverheadBytes
    }

    public static func fit(_ f: ModelFacts, weights: WeightsSummary, hardware: Hardware, context requested: Int,
                           kv: KVCacheElement = .f16) -> FitRow {
        let context = max(1, requested)
        let kvBytes = f.kvCacheBytes(tokens: context, type: kv)
        let compute = computeBufferBytes(f, context: context)
        let total = weights.bytes + kvBytes + compute + hardware.runtimeOverheadBytes
        let perToken = weights.bytesReadPerToken + kvBytes
        return FitRow(model: f.id, hardware: hardware.id, quant: weights.quant, contextLength: context, kvType: kv,
                      weightsBytes: weights.bytes, kvCacheBytes: kvBytes, computeBufferBytes: compute,
                      runtimeOverheadBytes: hardware.runtimeOverheadBytes, totalBytes: total, usableBytes: hardware.usableBytes,
                      fits: total <= hardware.usableBytes,
                      maxContextThatFits: maxContext(f, weights: weights, hardware: hardware, kv: kv),
                      bytesReadPerToken: perToken, bandwidthBytesPerSecond: hardware.bandwidthBytesPerSecond,
                      decodeTokensPerSecondUpperBound: hardware.bandwidthBytesPerSecond / Double(perToken))
    }

    /// The largest context ≤ the model's context length that fits (total memory grows with context).
    public static func maxContext(_ f: ModelFacts, weights: WeightsSummary, hardware: Hardware, kv: KVCacheElement) -> Int {
        func fits(_ n: Int) -> Bool { totalBytes(f, weights: weights, hardware: hardware, context: n, kv: kv) <= hardware.usableBytes }
        if fits(f.contextLength) { return f.contextLength }
        if !fits(1) { return 0 }
        var lo = 1, hi = f.contextLength  // fits(lo), !fits(hi)
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if fits(mid) { lo = mid } else { hi = mid }
        }
        return lo
    }
}
