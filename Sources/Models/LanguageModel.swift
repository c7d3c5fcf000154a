import Compute
import GGUF

/// Errors while running a model.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    /// A token would land past the end of the sequence's context.
    case contextFull(position: Int, capacity: Int)
    case badToken(Int32, vocabularySize: Int)
    case missingTensor(String)

    public var description: String {
        switch self {
        case .contextFull(let p, let c): "position \(p) is past the end of the context (\(c) tokens); use a larger --ctx"
        case .badToken(let t, let n): "token id \(t) is outside the vocabulary (\(n) tokens)"
        case .missingTensor(let name): "model file lacks the tensor '\(name)'"
        }
    }
}

/// A decoder-only transformer over a memory-mapped GGUF file.
///
/// A model holds only weights; everything that changes while a sequence runs (its KV cache and
/// scratch buffers) lives in a `SequenceState`, so one model serves several sequences.
public protocol LanguageModel: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// The state of one sequence with room for `contextLength` tokens.
    func makeState(contextLength: Int, cacheType: KVCacheType) -> SequenceState
    /// Appends `tokens` to the sequence (at positions state.count...), running them through the
    /// network in chunks of `state.chunkSize`. `body(i, logits)` is called with the vocabulary
    /// logits after token i: for every token when `allLogits`, else only for the last one.
    /// The logits buffer is reused; copy what you keep.
    func evaluate(_ tokens: [Int32], state: SequenceState, allLogits: Bool,
                  _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws
    /// Appends `tokens` as `evaluate` does, but hands out instead of logits each token's last hidden
    /// state after the final norm, before the output projection (llama.cpp's `result_norm`, the
    /// rows its embeddings pool): `body(i, row)` for every token, `config.embeddingWidth` values.
    /// The row buffer is reused; copy what you keep.
    func hiddenStates(_ tokens: [Int32], state: SequenceState,
                      _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws
    /// Scratch for decoding up to `rows` sequences together, each of at most `contextLength` tokens.
    func makeWorkspace(rows: Int, contextLength: Int) -> Workspace
    /// Appends `tokens[i]` to `states[i]` for every i in one forward pass (see BatchedDecode.swift).
    /// `body(i, logits)` is called with sequence i's next-token logits.
    func decode(_ tokens: [Int32], states: [SequenceState], workspace: Workspace,
                _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws
}

/// The registry: one model type per `general.architecture`.
public enum ModelRegistry {
    /// Loads the architecture the file names.
    public static func load(path: String, threads: Int) throws -> any LanguageModel {
        try load(file: GGUFFile(path: path), pool: try ThreadPool(threads: threads))
    }

    public static func load(file: GGUFFile, pool: ThreadPool) throws -> any LanguageModel {
        let config = try ModelConfig(gguf: file)
        switch config.architecture {
        case "llama", "mistral3": return try Llama(file: file, config: config, pool: pool)
        case "gemma3": return try Gemma3(file: file, config: config, pool: pool)
        default: throw ModelError.unsupportedArchitecture(config.architecture)
        }
    }
}

/// Weights of one model: matrices stay mapped in their GGUF type; small vectors (norms, biases)
/// are copied to f32 once.
final class WeightStore: @unchecked Sendable {
    let file: GGUFFile
    private var owned: [UnsafeMutablePointer<Float>] = []

    init(file: GGUFFile) { self.file = file }
    deinit { for p in owned { p.deallocate() } }

    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    func matrix(_ name: String) throws -> QuantizedMatrix {
        guard has(name) else { throw InferenceError.missingTensor(name) }
        return try QuantizedMatrix(file: file, tensor: name)
    }

    func vector(_ name: String) throws -> UnsafePointer<Float> {
        guard let info = file.tensor(named: name) else { throw InferenceError.missingTensor(name) }
        let n = info.elementCount
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        owned.append(p)
        let bytes = file.data(of: info)
        try Compute.dequantize(info.type, from: bytes.baseAddress!, to: p, count: n)
        return UnsafePointer(p)
    }

    func optionalVector(_ name: String) throws -> UnsafePointer<Float>? {
        has(name) ? try vector(name) : nil
    }
}

/// A block's attention projections (blk.N.attn_q, attn_k, attn_v, attn_output).
struct AttentionProjections {
    let query, key, value, output: QuantizedMatrix

    init(_ weights: WeightStore, block b: String) throws {
        query = try weights.matrix(b + "attn_q.weight")
        key = try weights.matrix(b + "attn_k.weight")
        value = try weights.matrix(b + "attn_v.weight")
        output = try weights.matrix(b + "attn_output.weight")
    }
}

/// A block's gated feed-forward (blk.N.ffn_gate, ffn_up, ffn_down): down(act(gate x) * up x).
struct GatedFeedForward {
    let gate, up, down: QuantizedMatrix

    init(_ weights: WeightStore, block b: String) throws {
        gate = try weights.matrix(b + "ffn_gate.weight")
        up = try weights.matrix(b + "ffn_up.weight")
        down = try weights.matrix(b + "ffn_down.weight")
    }
}

/// The weights at both ends of a decoder: token embeddings, the final norm, and the output
/// projection (the tied token_embd when output.weight is absent).
struct EmbeddingAndHead {
    let embeddings: QuantizedMatrix
    let outputNorm: UnsafePointer<Float>
    let output: QuantizedMatrix

    init(_ weights: WeightStore) throws {
        embeddings = try weights.matrix("token_embd.weight")
        outputNorm = try weights.vector("output_norm.weight")
        output = weights.has("output.weight") ? try weights.matrix("output.weight") : embeddings
    }
}
