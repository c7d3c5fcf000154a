import GGUF

public typealias TokenID = Int32

/// Token attributes (llama.h `llama_token_attr`), derived from `tokenizer.ggml.token_type`.
public struct TokenAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let undefined = TokenAttributes([])
    public static let unknown = TokenAttributes(rawValue: 1 << 0)
    public static let unused = TokenAttributes(rawValue: 1 << 1)
    public static let normal = TokenAttributes(rawValue: 1 << 2)
    public static let control = TokenAttributes(rawValue: 1 << 3)
    public static let userDefined = TokenAttributes(rawValue: 1 << 4)
    public static let byte = TokenAttributes(rawValue: 1 << 5)

    /// From a GGUF token type (llama.h `llama_token_type`: 1 normal, 2 unknown, 3 control,
    /// 4 user-defined, 5 unused, 6 byte; anything else undefined).
    init(ggufTokenType t: Int) {
        switch t {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = .undefined
        }
    }
}

/// The tokenizer algorithm (`tokenizer.ggml.model`).
public enum TokenizerKind: String, Sendable {
    /// SentencePiece BPE over scores ("llama"): Llama 2, Gemma, Mistral v1.
    case spm
    /// Byte-level BPE over merges ("gpt2"): GPT-2, Llama 3, SmolLM, Qwen, Mistral tekken.
    case bpe
}

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingKey(String)
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String)
    case badMetadata(key: String, reason: String)
    case duplicateToken(String, Int, Int)

    public var description: String {
        switch self {
        case .missingKey(let k): "the model file has no tokenizer key '\(k)'"
        case .unsupportedModel(let m): "unsupported tokenizer model '\(m)' (supported: llama (SPM), gpt2 (BPE))"
        case .unsupportedPreTokenizer(let p):
            "unsupported pre-tokenizer '\(p)' (supported: \(PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")) and their aliases)"
        case .badMetadata(let k, let r): "bad tokenizer metadata '\(k)': \(r)"
        case .duplicateToken(let t, let a, let b): "duplicate token in vocabulary: '\(t)' has ids \(a) and \(b)"
        }
    }
}
