import Foundation
import GGUF
import Testing
@testable import Tokenizers

/// Mistral's tekken vocabulary, built into a GGUF the way llama.cpp's convert_hf_to_gguf.py does
/// (gguf-py/gguf/vocab.py MistralVocab) and written with GGUFWriter, against llama.cpp's ids
/// (fixture: scripts/oracle/tekken_fixtures.py). Needs mistral-common's tekken_240911.json:
/// `$FEATHER_TEKKEN_JSON`, `.data/tekken_240911.json` (scripts/fetch-data.sh), or a virtual environment with mistral-common.
enum Tekken {
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

    struct Meta: Decodable {
        let special_tokens: [String]
        let bos: Int
        let eos: Int
        let unk: Int
        let pad: Int
        let n_merges: Int
    }

    struct Row: Decodable {
        let id: Int
        let ids: [Int32]
        let ids_nospecial: [Int32]
        let mistral: [Int32]
    }

    static let json: URL? = {
        let fm = FileManager.default
        if let p = ProcessInfo.processInfo.environment["FEATHER_TEKKEN_JSON"], fm.fileExists(atPath: p) {
            return URL(fileURLWithPath: p)
        }
        let root = Fixtures.repoRoot
        // scripts/fetch-data.sh tekken puts it in the data folder.
        let dataDir = ProcessInfo.processInfo.environment["FEATHER_DATA"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent(".data")
        let fetched = dataDir.appendingPathComponent("tekken_240911.json")
        if fm.fileExists(atPath: fetched.path) { return fetched }
        for venv in (try? fm.contentsOfDirectory(atPath: root.path))?.filter({ $0.hasPrefix(".venv") }) ?? [] {
            let lib = root.appendingPathComponent(venv).appendingPathComponent("lib")
            for py in (try? fm.contentsOfDirectory(atPath: lib.path)) ?? [] {
                let f = lib.appendingPathComponent(py).appendingPathComponent("site-packages/mistral_common/data/tekken_240911.json")
                if fm.fileExists(atPath: f.path) { return f }
            }
        }
        return nil
    }()

    static let preTokenizers = ["tekken", "llama-bpe", "qwen2", "gpt-2", "smollm", "default"]

    /// The vocabulary-only GGUF under each pre-tokenizer, and its tokenizer; built once.
    static let built: [String: (gguf: [UInt8], tokenizer: Tokenizer)] = {
        guard available, let json,
              let file = try? JSONDecoder().decode(File.self, from: Data(contentsOf: json)),
              let meta = try? JSONDecoder().decode(
                  Meta.self, from: Data(contentsOf: Fixtures.tokenizerDir.appendingPathComponent("tekken.meta.json")))
        else { return [:] }
        var w = writer(file, meta)
        var out: [String: (gguf: [UInt8], tokenizer: Tokenizer)] = [:]
        for pre in preTokenizers {
            w.set("tokenizer.ggml.pre", pre)
            let bytes = w.serialized()
            if let t = try? Tokenizer(gguf: GGUFFile(bytes: bytes)) { out[pre] = (bytes, t) }
        }
        return out
    }()

    static var available: Bool { json != nil && Fixtures.hasFixture("tekken.jsonl") && Fixtures.hasFixture("tekken.meta.json") }

    static func byteLevel(_ b: [UInt8]) -> String { String(decoding: b.flatMap { ByteLevel.encoded[Int($0)] }, as: UTF8.self) }

    /// The vocabulary-only GGUF: special tokens (CONTROL), then each token's bytes through GPT-2's
    /// byte-to-unicode map (NORMAL); for every token from rank 256 on, the merges of each split
    /// whose halves are tokens, ordered by the halves' ranks.
    static func writer(_ file: File, _ meta: Meta) -> GGUFWriter {
        let inner = file.config.default_vocab_size - file.config.default_num_special_tokens
        let vocab = file.vocab.filter { $0.rank < inner }.sorted { $0.rank < $1.rank }
            .map { [UInt8](Data(base64Encoded: $0.token_bytes)!) }
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
        var w = GGUFWriter()
        w.set("general.architecture", "llama")
        w.set("tokenizer.ggml.model", "gpt2")
        w.set("tokenizer.ggml.pre", "tekken")
        w.set("tokenizer.ggml.tokens", .array(.string(meta.special_tokens + vocab.map(byteLevel))))
        w.set("tokenizer.ggml.token_type", .array(.int32(
            [Int32](repeating: 3, count: meta.special_tokens.count) + [Int32](repeating: 1, count: vocab.count))))
        w.set("tokenizer.ggml.merges", .array(.string(merges)))
        w.set("tokenizer.ggml.bos_token_id", uint32: meta.bos)
        w.set("tokenizer.ggml.eos_token_id", uint32: meta.eos)
        w.set("tokenizer.ggml.unknown_token_id", uint32: meta.unk)
        w.set("tokenizer.ggml.padding_token_id", uint32: meta.pad)
        w.set("tokenizer.ggml.add_bos_token", true)
        w.set("tokenizer.ggml.add_eos_token", false)
        return w
    }
}

/// A row value that is either the corpus id or a list of token ids.
struct AnyID: Decodable {
    let ids: [Int32]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([Int32].self) { ids = list } else { ids = [Int32(try c.decode(Int.self))] }
    }
}

@Suite struct TekkenTests {
    @Test(.enabled(if: Fixtures.runs(Tekken.available), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer"))
    func idsMatchLlamaCpp() throws {
        let meta = try JSONDecoder().decode(
            Tekken.Meta.self, from: Data(contentsOf: Fixtures.tokenizerDir.appendingPathComponent("tekken.meta.json")))
        // Through a file, as a user would load it.
        let bytes = try #require(Tekken.built["tekken"]).gguf
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("feather-tekken-vocab-\(getpid()).gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try Tokenizer(path: path)
        #expect(t.merges!.pairs.count == meta.n_merges)
        #expect(t.preTokenizer == .tekken && t.ignoreMerges && t.addBOS && !t.cleanSpaces)
        let rows = try Fixtures.jsonLines("tekken.jsonl", as: Tekken.Row.self)
        let corpus = try Fixtures.corpus()
        var bad = 0, agreeMistral = 0
        for (item, row) in zip(corpus, rows) {
            let got = t.tokenize(item.text, parseSpecial: true)
            let plain = t.tokenize(item.text, parseSpecial: false)
            if got != row.ids || plain != row.ids_nospecial {
                bad += 1
                if bad <= 5 { Issue.record("tekken text \(item.id) \(item.text.debugDescription.prefix(60)): got \(plain.prefix(30)), want \(row.ids_nospecial.prefix(30))") }
            }
            if plain == row.mistral { agreeMistral += 1 }
        }
        #expect(bad == 0, "\(bad) of \(corpus.count) texts differ from llama.cpp")
        print("tekken: llama.cpp ids on \(corpus.count - bad)/\(corpus.count) texts; mistral-common ids on \(agreeMistral)/\(corpus.count)")

        // The same vocabulary under every other pre-tokenizer, against llama.cpp's own splitters.
        let others = try Fixtures.jsonLines("tekken-vocab-pretokenizers.jsonl", as: [String: AnyID].self)
        for pre in Tekken.preTokenizers.dropFirst() {
            let tp = try #require(Tekken.built[pre]).tokenizer
            var differ = 0
            for (item, row) in zip(corpus, others) {
                let want = row[pre]!.ids
                let got = tp.tokenize(item.text, parseSpecial: true)
                if got != want {
                    differ += 1
                    if differ <= 3 { Issue.record("\(pre) text \(item.id) \(item.text.debugDescription.prefix(60)): got \(got.prefix(30)), want \(want.prefix(30))") }
                }
            }
            #expect(differ == 0, "\(pre): \(differ) texts differ")
            print("tekken vocabulary with pre-tokenizer \(pre): llama.cpp ids on \(corpus.count - differ)/\(corpus.count) texts")
        }
    }
}

/// Random text over all of Unicode against hashes of llama.cpp's ids (scripts/oracle/tokenizer_fuzz_fixtures.py).
@Suite struct FuzzTests {
    static func check(_ name: String, _ t: Tokenizer) throws {
        let rows = try Fixtures.jsonLines("fuzz.jsonl", as: [String: String].self)
        var bad = 0
        for (i, row) in rows.enumerated() {
            let ids = t.tokenize(row["text"]!, addSpecial: true, parseSpecial: true)
            var bytes: [UInt8] = []
            for id in ids { withUnsafeBytes(of: id.littleEndian) { bytes.append(contentsOf: $0) } }
            if String(sha256Hex(bytes).prefix(16)) != row[name]! {
                bad += 1
                if bad <= 3 {
                    let cps = row["text"]!.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ")
                    Issue.record("\(name) random text \(i) [\(cps)]: ids \(ids) differ from llama.cpp's")
                }
            }
        }
        #expect(bad == 0)
        print("\(name): ids equal llama.cpp's on \(rows.count - bad)/\(rows.count) random texts")
    }

    @Test(.enabled(if: Fixtures.runs(Fixtures.hasModel("gemma3-270m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func gemma3() throws { try Self.check("gemma3-270m", Fixtures.tokenizer("gemma3-270m")) }
    @Test(.enabled(if: Fixtures.runs(Fixtures.hasModel("smollm2-135m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func smollm2() throws { try Self.check("smollm2-135m", Fixtures.tokenizer("smollm2-135m")) }
    @Test(.enabled(if: Fixtures.runs(Tekken.available), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func tekkenVocabulary() throws {
        for pre in Tekken.preTokenizers { try Self.check("tekken-vocab-\(pre)", try #require(Tekken.built[pre]).tokenizer) }
    }
}
