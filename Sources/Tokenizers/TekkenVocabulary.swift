import Foundation
import GGUF

/// Mistral's tekken vocabulary (mistral-common's `tekken_*.json`) as llama.cpp's convert_hf_to_gguf.py writes it
/// into a GGUF (gguf-py's MistralVocab, described, not copied): the special tokens first as CONTROL, then every
/// vocabulary token's bytes through GPT-2's byte-to-unicode map as NORMAL, the merges recovered from the ranks,
/// pre-tokenizer "tekken".
public enum TekkenVocabulary {
    public enum Error: Swift.Error, CustomStringConvertible {
        case unreadable(String)
        public var description: String {
            switch self { case .unreadable(let why): "not a tekken vocabulary: \(why)" }
        }
    }

    struct File: Decodable {
        struct Config: Decodable {
            let default_vocab_size: Int
            let default_num_special_tokens: Int
        }
        struct Token: Decodable {
            let rank: Int
            let token_bytes: String
        }
        let config: Config
        let vocab: [Token]
    }

    /// mistral-common's special tokens of tekken v3 (ids 0-19), then `<SPECIAL_n>` up to the special-token count.
    public static let namedSpecialTokens = [
        "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]",
        "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
    ]

    public static func specialTokens(count: Int) -> [String] {
        namedSpecialTokens.prefix(count) + (namedSpecialTokens.count..<max(count, namedSpecialTokens.count)).map { "<SPECIAL_\($0)>" }
    }

    static func byteLevel(_ b: [UInt8]) -> String { String(decoding: b.flatMap { ByteLevel.encoded[Int($0)] }, as: UTF8.self) }

    /// The `tokenizer.ggml.*` metadata for the tekken JSON file's bytes: tokens, token types, merges (for every token
    /// from rank 256 on, each split whose halves are tokens, ordered by the halves' ranks), special ids
    /// (<unk> 0, <s> 1, </s> 2, <pad> 11), BOS added.
    public static func metadata(json data: Data, specialTokens: [String]? = nil) throws -> [(key: String, value: GGUFValue)] {
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch { throw Error.unreadable("\(error)") }
        let special = specialTokens ?? Self.specialTokens(count: file.config.default_num_special_tokens)
        let inner = file.config.default_vocab_size - file.config.default_num_special_tokens
        var vocab: [[UInt8]] = []
        for t in file.vocab.filter({ $0.rank < inner }).sorted(by: { $0.rank < $1.rank }) {
            guard let b = Data(base64Encoded: t.token_bytes) else { throw Error.unreadable("token \(t.rank) is not base64") }
            vocab.append([UInt8](b))
        }
        guard vocab.count > 256 else { throw Error.unreadable("only \(vocab.count) tokens") }
        var ranks = ByteTable(capacity: vocab.count)
        for (r, b) in vocab.enumerated() { ranks.insert(b, value: Int32(r)) }
        var merges: [String] = []
        for b in vocab[256...] {
            var local: [(Int32, Int32, Int)] = []
            for j in 1..<b.count {
                let l = ranks.lookup(Array(b[..<j])), r = ranks.lookup(Array(b[j...]))
                if l >= 0 && r >= 0 { local.append((l, r, j)) }
            }
            for (_, _, j) in local.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
                merges.append(byteLevel(Array(b[..<j])) + " " + byteLevel(Array(b[j...])))
            }
        }
        return [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("tekken")),
            ("tokenizer.ggml.tokens", .array(.string(special + vocab.map(byteLevel)))),
            ("tokenizer.ggml.token_type", .array(.int32(
                [Int32](repeating: 3, count: special.count) + [Int32](repeating: 1, count: vocab.count)))),
            ("tokenizer.ggml.merges", .array(.string(merges))),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
            ("tokenizer.ggml.unknown_token_id", .uint32(0)),
            ("tokenizer.ggml.padding_token_id", .uint32(11)),
            ("tokenizer.ggml.add_bos_token", .bool(true)),
            ("tokenizer.ggml.add_eos_token", .bool(false)),
        ]
    }
}
