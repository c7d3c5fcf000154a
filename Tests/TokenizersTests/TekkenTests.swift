import Foundation
import GGUF
import Testing
@testable import Tokenizers

/// Mistral's tekken vocabulary, built into a GGUF the way llama.cpp's convert_hf_to_gguf.py does
/// (gguf-py/gguf/vocab.py MistralVocab) and written with GGUFWriter, against llama.cpp's ids
/// (fixture: scripts/oracle/tekken_fixtures.py). Needs mistral-common's tekken_240911.json:
/// `$FEATHER_TEKKEN_JSON`, `.data/tekken_240911.json` (scripts/fetch-data.sh), or a virtual environment with mistral-common.
enum Tekken {
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

    /// The vocabulary-only GGUF (TekkenVocabulary's metadata) under each pre-tokenizer, and its tokenizer; built once.
    static let built: [String: (gguf: [UInt8], tokenizer: Tokenizer)] = {
        guard available, let json,
              let meta = try? JSONDecoder().decode(
                  Meta.self, from: Data(contentsOf: Fixtures.tokenizerDir.appendingPathComponent("tekken.meta.json"))),
              let entries = try? TekkenVocabulary.metadata(json: Data(contentsOf: json), specialTokens: meta.special_tokens)
        else { return [:] }
        var w = GGUFWriter()
        w.set("general.architecture", "llama")
        for (k, v) in entries { w.set(k, v) }
        var out: [String: (gguf: [UInt8], tokenizer: Tokenizer)] = [:]
        for pre in preTokenizers {
            w.set("tokenizer.ggml.pre", pre)
            let bytes = w.serialized()
            if let t = try? Tokenizer(gguf: GGUFFile(bytes: bytes)) { out[pre] = (bytes, t) }
        }
        return out
    }()

    static var available: Bool { json != nil && Fixtures.hasFixture("tekken.jsonl") && Fixtures.hasFixture("tekken.meta.json") }
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
        // The library's own special-token list is the one the oracle used.
        #expect(TekkenVocabulary.specialTokens(count: meta.special_tokens.count) == meta.special_tokens)
        #expect(meta.unk == 0 && meta.bos == 1 && meta.eos == 2 && meta.pad == 11)
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
