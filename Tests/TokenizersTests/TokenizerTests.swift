import GGUF
import Testing
@testable import Tokenizers

/// Small synthetic vocabularies written with GGUFWriter, whose expected tokens follow by hand from
/// llama.cpp's algorithms.
enum Synthetic {
    /// SPM: ids 0 <unk>, 1 <s>, 2 </s>, 3...258 <0x00>...<0xFF>, then the pieces below.
    static let spmPieces: [(String, Float, Int)] = [
        ("▁", -1, 1), ("a", -2, 1), ("b", -2, 1), ("ab", -0.5, 1), ("▁a", -0.8, 1), ("▁ab", -0.3, 1), ("c", -3, 1),
        ("<ctrl>", 0, 3), ("<user>", 0, 4),
    ]
    static func spmID(_ text: String) -> TokenID { TokenID(259 + spmPieces.firstIndex { $0.0 == text }!) }

    static func spm(addSpacePrefix: Bool = true) throws -> Tokenizer {
        var tokens = ["<unk>", "<s>", "</s>"], scores: [Float] = [0, 0, 0], types: [Int32] = [2, 3, 3]
        for b in 0..<256 {
            tokens.append("<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">")
            scores.append(0); types.append(6)
        }
        for (t, s, k) in spmPieces { tokens.append(t); scores.append(s); types.append(Int32(k)) }
        var w = GGUFWriter()
        w.set("general.architecture", "llama")
        w.set("tokenizer.ggml.model", "llama")
        w.set("tokenizer.ggml.tokens", .array(.string(tokens)))
        w.set("tokenizer.ggml.scores", .array(.float32(scores)))
        w.set("tokenizer.ggml.token_type", .array(.int32(types)))
        w.set("tokenizer.ggml.add_space_prefix", addSpacePrefix)
        return try Tokenizer(gguf: GGUFFile(bytes: w.serialized()))
    }

    /// Byte-level BPE: ids 0...255 are the 256 byte characters, then the merged tokens.
    static let bpeMerges = ["Ġ t", "h e", "Ġt he", "Ġ ."]
    static let bpeExtra = ["Ġt", "he", "Ġthe", "Ġ.", "<|endoftext|>"]

    static func bpe(pre: String = "gpt-2") throws -> Tokenizer {
        var tokens = ByteLevel.encoded.map { String(decoding: $0, as: UTF8.self) }
        var types = [Int32](repeating: 1, count: 256)
        tokens += bpeExtra
        types += [1, 1, 1, 1, 3]
        var w = GGUFWriter()
        w.set("general.architecture", "gpt2")
        w.set("tokenizer.ggml.model", "gpt2")
        w.set("tokenizer.ggml.pre", pre)
        w.set("tokenizer.ggml.tokens", .array(.string(tokens)))
        w.set("tokenizer.ggml.token_type", .array(.int32(types)))
        w.set("tokenizer.ggml.merges", .array(.string(bpeMerges)))
        w.set("tokenizer.ggml.eos_token_id", uint32: 260)
        return try Tokenizer(gguf: GGUFFile(bytes: w.serialized()))
    }

    static func byteID(_ c: Character) -> TokenID { TokenID(c.asciiValue!) }
}

@Suite struct SPMTests {
    @Test func mergesHighestScoreFirst() throws {
        let t = try Synthetic.spm()
        // "▁ab▁c": "ab" (-0.5) merges first, then "▁ab" (-0.3); "▁c" is no token.
        #expect(t.tokenize("ab c") == [1, Synthetic.spmID("▁ab"), Synthetic.spmID("▁"), Synthetic.spmID("c")])
        #expect(t.tokenize("ab c", addSpecial: false) == [Synthetic.spmID("▁ab"), Synthetic.spmID("▁"), Synthetic.spmID("c")])
    }

    @Test func unknownCharactersFallBackToBytes() throws {
        let t = try Synthetic.spm(addSpacePrefix: false)
        #expect(t.tokenize("é", addSpecial: false) == [3 + 0xC3, 3 + 0xA9])
    }

    @Test func detokenizeRemovesTheAddedSpaceOnlyWithoutBOS() throws {
        let t = try Synthetic.spm()
        let ids = t.tokenize("ab c", addSpecial: false)
        #expect(t.detokenize(ids) == "ab c")
        // llama.cpp: the BOS token (even when removed) uses up the leading-space removal.
        #expect(t.detokenize([1] + ids) == " ab c")
        #expect(t.detokenize([1] + ids, removeSpecial: true) == " ab c")
        #expect(t.detokenize([3 + 0xC3, 3 + 0xA9]) == "é")
    }

    @Test func specialTokensNeedParseSpecialButUserDefinedAlwaysMatch() throws {
        let t = try Synthetic.spm(addSpacePrefix: false)
        let ctrl = Synthetic.spmID("<ctrl>"), user = Synthetic.spmID("<user>")
        #expect(t.tokenize("a<ctrl>b", addSpecial: false, parseSpecial: true) == [Synthetic.spmID("a"), ctrl, Synthetic.spmID("b")])
        #expect(!t.tokenize("a<ctrl>b", addSpecial: false, parseSpecial: false).contains(ctrl))
        #expect(t.tokenize("a<user>b", addSpecial: false, parseSpecial: false) == [Synthetic.spmID("a"), user, Synthetic.spmID("b")])
        #expect(t.piece(ctrl) == "" && t.piece(ctrl, special: true) == "<ctrl>")
        #expect(t.piece(user) == "<user>")
    }

    @Test func spacePrefixFollowsEverySpecialToken() throws {
        let t = try Synthetic.spm()
        let ctrl = Synthetic.spmID("<ctrl>")
        // Each text fragment after a special token gets the space prefix (llama.cpp is_prev_special).
        #expect(t.tokenize("a<ctrl>a", addSpecial: false, parseSpecial: true)
            == [Synthetic.spmID("▁a"), ctrl, Synthetic.spmID("▁a")])
    }

    @Test func metadataDefaults() throws {
        let t = try Synthetic.spm()
        #expect(t.kind == .spm && t.bos == 1 && t.eos == 2 && t.unknown == 0 && t.addBOS && !t.addEOS)
        #expect(t.isEndOfGeneration(2) && t.endOfGeneration.contains(2))
    }
}

@Suite struct BPETests {
    @Test func mergesLowestRankFirst() throws {
        let t = try Synthetic.bpe()
        #expect(t.tokenize(" the") == [258])
        #expect(t.tokenize("the") == [Synthetic.byteID("t"), 257])
        #expect(t.tokenize("") == [])
    }

    @Test func bytesMapToByteLevelCharacters() throws {
        let t = try Synthetic.bpe()
        // "é" is C3 A9, byte-level "Ã©", two tokens whose ids are the byte values.
        #expect(t.tokenize("é") == [0xC3, 0xA9])
        #expect(t.detokenize([0xC3, 0xA9]) == "é")
        #expect(t.detokenize(t.tokenize("a\n\tb ")) == "a\n\tb ")
    }

    @Test func cleanSpacesLikeLlamaCpp() throws {
        #expect(Tokenizer.cleanUpSpaces(Array("a . b , c ! d ?".utf8)) == Array("a. b, c! d?".utf8))
        #expect(Tokenizer.cleanUpSpaces(Array("it 's we 're I 'm they 've I 'll it 'd".utf8))
            == Array("it's we're I'm they've I 'll it 'd".utf8))
        #expect(Tokenizer.cleanUpSpaces(Array("a ' b".utf8)) == Array("a'b".utf8))
        // llama.cpp's pass 2 overwrites the dropped space with NUL, so the second quote is not between spaces.
        #expect(Tokenizer.cleanUpSpaces(Array("a ' ' b".utf8)) == Array("a'' b".utf8))
        let gpt2 = try Synthetic.bpe()
        #expect(gpt2.cleanSpaces && gpt2.detokenize(gpt2.tokenize("a .")) == "a.")
        let smollm = try Synthetic.bpe(pre: "smollm")
        #expect(!smollm.cleanSpaces && smollm.detokenize(smollm.tokenize("a .")) == "a .")
    }

    @Test func controlTokensAndEndOfGeneration() throws {
        let t = try Synthetic.bpe()
        #expect(t.tokenize("a<|endoftext|>", parseSpecial: true) == [Synthetic.byteID("a"), 260])
        #expect(t.tokenize("a<|endoftext|>", parseSpecial: false).count == 14)
        #expect(t.eos == 260 && t.isEndOfGeneration(260) && !t.addBOS)
        #expect(t.detokenize([260]) == "" && t.detokenize([260], unparseSpecial: true) == "<|endoftext|>")
    }

    @Test func unsupportedPreTokenizerIsAnError() throws {
        #expect(throws: TokenizerError.unsupportedPreTokenizer("no-such-pre")) { try Synthetic.bpe(pre: "no-such-pre") }
    }
}

@Suite struct StreamingDetokenizerTests {
    @Test func holdsBackIncompleteCharacters() throws {
        let t = try Synthetic.bpe()
        var s = StreamingDetokenizer(tokenizer: t)
        // 🤖 is F0 9F A4 96: one byte-level token per byte.
        #expect(s.append(Synthetic.byteID("a")) == "a")
        #expect(s.append(0xF0) == "")
        #expect(s.append(0x9F) == "")
        #expect(s.append(0xA4) == "")
        #expect(s.append(0x96) == "🤖")
        #expect(s.append(0xC3) == "")
        #expect(s.finish() == "\u{FFFD}")
    }

    @Test func concatenationEqualsDetokenizeOnRandomText() throws {
        let t = try Synthetic.bpe(pre: "smollm")
        var rng = SystemRandomNumberGenerator()
        let pool = Array("ab the é日本🤖👍🏽\n\t.")
        for _ in 0..<50 {
            let text = String((0..<Int.random(in: 0...30, using: &rng)).map { _ in pool.randomElement(using: &rng)! })
            var s = StreamingDetokenizer(tokenizer: t)
            var out = ""
            for id in t.tokenize(text) { out += s.append(id) }
            out += s.finish()
            #expect(scalars(out) == scalars(t.detokenize(t.tokenize(text))))
        }
    }
}
