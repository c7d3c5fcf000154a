import Foundation
import GGUF
import Testing
@testable import Tokenizers

/// Token ids and detokenized text against llama.cpp on every corpus text
/// (fixtures: scripts/oracle/tokenizer_fixtures.py; models: $FEATHER_MODELS or <repo>/.models).
struct OracleRow: Decodable {
    let id: Int
    let ids: [Int32]
    let ids_nospecial: [Int32]
    let ids_noadd: [Int32]
    let detok: String
    let detok_special: String
}

struct OracleMeta: Decodable {
    let n_vocab: Int
    let bos: Int32?
    let eos: Int32?
    let eot: Int32?
    let add_bos: Bool
    let add_eos: Bool
    let eog: [Int32]
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }

func canRunConformance(_ model: String) -> Bool {
    Fixtures.hasModel(model) && Fixtures.hasFixture("\(model).jsonl") && Fixtures.hasFixture("\(model).pieces.jsonl")
        && Fixtures.hasFixture("\(model).meta.json")
}

/// Each check runs per model, and only where the model file and its fixture are present.
@Suite struct ConformanceTests {
    @Test(.enabled(if: Fixtures.runs(canRunConformance("gemma3-270m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func gemma3IDs() throws { try idsMatchLlamaCpp("gemma3-270m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("smollm2-135m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func smollm2IDs() throws { try idsMatchLlamaCpp("smollm2-135m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("gemma3-270m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func gemma3Detokenize() throws { try detokenizeMatchesLlamaCpp("gemma3-270m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("smollm2-135m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func smollm2Detokenize() throws { try detokenizeMatchesLlamaCpp("smollm2-135m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("gemma3-270m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func gemma3Pieces() throws { try piecesMatchLlamaCpp("gemma3-270m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("smollm2-135m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func smollm2Pieces() throws { try piecesMatchLlamaCpp("smollm2-135m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("gemma3-270m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func gemma3SpecialIDs() throws { try specialIdsMatchLlamaCpp("gemma3-270m") }
    @Test(.enabled(if: Fixtures.runs(canRunConformance("smollm2-135m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer")) func smollm2SpecialIDs() throws { try specialIdsMatchLlamaCpp("smollm2-135m") }

    func idsMatchLlamaCpp(_ model: String) throws {
        let t = try Fixtures.tokenizer(model)
        let corpus = try Fixtures.corpus()
        let rows = try Fixtures.jsonLines("\(model).jsonl", as: OracleRow.self)
        #expect(rows.count == corpus.count)
        var bad = [String: Int]()
        for (item, row) in zip(corpus, rows) {
            let checks: [(String, [Int32], [Int32])] = [
                ("special", t.tokenize(item.text, addSpecial: true, parseSpecial: true), row.ids),
                ("nospecial", t.tokenize(item.text, addSpecial: true, parseSpecial: false), row.ids_nospecial),
                ("noadd", t.tokenize(item.text, addSpecial: false, parseSpecial: true), row.ids_noadd),
            ]
            for (name, got, want) in checks where got != want {
                bad[name, default: 0] += 1
                if bad[name]! <= 3 {
                    Issue.record("\(model) \(name) text \(item.id) \(item.text.debugDescription.prefix(80)): got \(got.prefix(40)), want \(want.prefix(40))")
                }
            }
        }
        #expect(bad.isEmpty, "mismatching texts: \(bad) of \(corpus.count)")
        print("\(model): ids equal llama.cpp's on \(corpus.count - (bad.values.max() ?? 0))/\(corpus.count) texts (with special parsing, without, without BOS)")
    }

    func detokenizeMatchesLlamaCpp(_ model: String) throws {
        let t = try Fixtures.tokenizer(model)
        let corpus = try Fixtures.corpus()
        let rows = try Fixtures.jsonLines("\(model).jsonl", as: OracleRow.self)
        var bad = 0, roundTrips = 0
        for (item, row) in zip(corpus, rows) {
            let plain = hex(t.detokenizeBytes(row.ids, removeSpecial: false, unparseSpecial: false))
            let special = hex(t.detokenizeBytes(row.ids, removeSpecial: true, unparseSpecial: true))
            if plain != row.detok || special != row.detok_special {
                bad += 1
                if bad <= 3 { Issue.record("\(model) text \(item.id): got \(plain) / \(special), want \(row.detok) / \(row.detok_special)") }
            }
            // Where llama.cpp gets the text back, so do we.
            if row.detok_special == hex(Array(item.text.utf8)) {
                roundTrips += 1
                let back = t.detokenizeBytes(t.tokenize(item.text, parseSpecial: true), removeSpecial: true, unparseSpecial: true)
                #expect(back == Array(item.text.utf8), "text \(item.id) does not round-trip")
            }
        }
        #expect(bad == 0)
        #expect(roundTrips > corpus.count / 2)
    }

    func piecesMatchLlamaCpp(_ model: String) throws {
        let t = try Fixtures.tokenizer(model)
        let data = try Data(contentsOf: Fixtures.tokenizerDir.appendingPathComponent("\(model).pieces.jsonl"))
        var bad = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let row = try JSONSerialization.jsonObject(with: Data(line)) as! [Any]
            let id = TokenID(row[0] as! Int)
            let plain = hex(t.pieceBytes(id, special: false)), special = hex(t.pieceBytes(id, special: true))
            if plain != row[1] as! String || special != row[2] as! String {
                bad += 1
                if bad <= 5 { Issue.record("\(model) token \(id) \(t.text(of: id).debugDescription): got \(plain)/\(special), want \(row[1])/\(row[2])") }
            }
        }
        #expect(bad == 0)
    }

    func specialIdsMatchLlamaCpp(_ model: String) throws {
        let t = try Fixtures.tokenizer(model)
        let meta = try JSONDecoder().decode(
            OracleMeta.self, from: Data(contentsOf: Fixtures.tokenizerDir.appendingPathComponent("\(model).meta.json")))
        #expect(t.vocabularySize == meta.n_vocab)
        #expect(t.bos == meta.bos)
        #expect(t.eos == meta.eos)
        #expect(t.eot == meta.eot)
        #expect(t.addBOS == meta.add_bos)
        #expect(t.addEOS == meta.add_eos)
        #expect(t.endOfGeneration == Set(meta.eog))
    }
}

@Suite struct SPMSegmentationTests {
    /// Cutting SPM text between characters that never meet inside a token changes nothing.
    @Test(.enabled(if: Fixtures.runs(Fixtures.hasModel("gemma3-270m")), "needs the embedded models in .models (make models) and Tests/Fixtures/tokenizer"))
    func segmentedEqualsWhole() throws {
        let t = try Fixtures.tokenizer("gemma3-270m")
        for item in try Fixtures.corpus() {
            let escaped = Array(item.text.utf8).flatMap { $0 == 0x20 ? [0xE2, 0x96, 0x81] : [$0] }
            var a: [TokenID] = [], b: [TokenID] = []
            var s = SPMSession(tokenizer: t)
            s.tokenize(escaped, into: &a, segmented: true)
            s.tokenize(escaped, into: &b, segmented: false)
            #expect(a == b, "text \(item.id)")
        }
    }
}
