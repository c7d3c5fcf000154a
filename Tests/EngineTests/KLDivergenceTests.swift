import Foundation
import Models
import Testing
@testable import Engine

/// llama-perplexity's KL-divergence statistics: per-position terms against analytic values, its
/// percentile and uncertainty conventions, and a model scored against its own base.
struct KLDivergenceTests {
    /// Adds one position whose base distribution has `baseLogits` and the model's `logits`.
    static func add(_ sums: inout KLDivergenceSums, base baseLogits: [Float], model logits: [Float], token: Int) -> (kld: Double, pDiff: Float) {
        let (record, _) = KLDivergenceBaseTests.record(baseLogits)
        return record.withUnsafeBufferPointer { r in
            let scale = Float(bitPattern: UInt32(r[0]) | UInt32(r[1]) << 16)
            let minLogProb = Float(bitPattern: UInt32(r[2]) | UInt32(r[3]) << 16)
            let base = BaseLogProbs(scale: scale, minLogProb: minLogProb, quantized: UnsafeBufferPointer(rebasing: r[4..<(4 + baseLogits.count)]))
            return logits.withUnsafeBufferPointer { sums.add(logits: $0, base: base, token: token) }
        }
    }

    @Test func klDivergenceOfTwoKnownDistributions() {
        // base (1/2, 1/2), model (3/4, 1/4): KL = ½ ln(2/3) + ½ ln 2 = ½ ln(4/3).
        var sums = KLDivergenceSums()
        let v = Self.add(&sums, base: [0, 0], model: [log(3), 0], token: 1)
        #expect(abs(v.kld - 0.5 * log(4.0 / 3)) < 1e-6)
        #expect(abs(Double(v.pDiff) - (0.25 - 0.5)) < 1e-6)
        #expect(abs(sums.sumNLL - log(4.0)) < 1e-6 && abs(sums.sumNLLBase - log(2.0)) < 1e-6)
        #expect(sums.count == 1 && sums.sameTop == 1)  // both argmaxes are token 0 (the first of a tie)
        let other = Self.add(&sums, base: [0, 1], model: [1, 0], token: 0)
        #expect(sums.sameTop == 1 && other.kld > 0)
    }

    @Test func identicalDistributionsHaveNoDivergence() {
        var sums = KLDivergenceSums()
        for k in 0..<20 {
            let logits: [Float] = (0..<50).map { Float(($0 * 37 + k * 11) % 23) * 0.4 - 3 }
            let v = Self.add(&sums, base: logits, model: logits, token: k)
            // Only the base's 16-bit steps (8.8 nats / 65535 = 1.3e-4) separate the two: half a step per log-prob at most.
            #expect(abs(v.kld) < 1.4e-4 && abs(v.pDiff) < 1.4e-4)
        }
        #expect(sums.sameTop == 20)
        #expect(abs(sums.logPPLRatio.value) < 7e-5)
        #expect(sums.sameTopFraction == Estimate(1, 0))
    }

    @Test func uncertaintiesNeedElevenValues() {
        #expect(KLDivergenceSums.meanAndUncertainty(10, 30, 10) == Estimate(1, 0))
        // 11 values: mean 1, E[x²] 3, variance 2, uncertainty √(2/10).
        let e = KLDivergenceSums.meanAndUncertainty(11, 33, 11)
        #expect(e.value == 1 && abs(e.uncertainty - (0.2).squareRoot()) < 1e-12)
        #expect(KLDivergenceSums.covariance(1, 2, 3, 9) == 0)
        #expect(abs(KLDivergenceSums.covariance(10, 20, 30, 10) - (3 - 2) / 9) < 1e-12)
    }

    @Test func percentilesInterpolateAsLlamaPerplexity() {
        let v: [Float] = [1, 2, 3, 4]
        #expect(KLDivergenceStatistics.percentile(v, 0.5) == 2.5)
        #expect(abs(KLDivergenceStatistics.percentile(v, 0.9) - 3.7) < 1e-6)
        #expect(KLDivergenceStatistics.percentile(v, 0) == 1 && KLDivergenceStatistics.percentile(v, 1) == 4)
        #expect(KLDivergenceStatistics.median(v) == 2.5 && KLDivergenceStatistics.median([5, 1, 9].sorted()) == 5)
        let p = KLDivergenceStatistics.percentiles((0...1000).map { Float($0) }, [0.999, nil, 0.01])
        #expect(p.map(\.label) == ["Maximum", "99.9%", "Median", " 1.0%", "Minimum"])
        for (value, expected) in zip(p.map(\.value), [1000.0, 999, 500, 10, 0]) { #expect(abs(value - expected) < 1e-3) }
    }

    @Test func statisticsOfSums() {
        var sums = KLDivergenceSums()
        var kld: [Float] = [], pDiff: [Float] = []
        for k in 0..<40 {
            let base: [Float] = (0..<30).map { Float(($0 * 7 + k) % 13) * 0.5 }
            let model: [Float] = (0..<30).map { Float(($0 * 7 + k) % 13) * 0.45 + Float(($0 + k) % 3) * 0.1 }
            let v = Self.add(&sums, base: base, model: model, token: (k * 5) % 30)
            kld.append(Float(v.kld))
            pDiff.append(v.pDiff)
        }
        let s = KLDivergenceStatistics(chunks: 2, contextLength: 42, sums: sums, kld: kld, pDiff: pDiff)
        #expect(abs(s.kld.value - kld.map(Double.init).reduce(0, +) / 40) < 1e-6)
        #expect(s.kld.uncertainty > 0)
        #expect(s.kldPercentiles.first!.value == Double(kld.max()!) && s.kldPercentiles.last!.value == Double(kld.min()!))
        #expect(s.kldPercentiles.count == 11 && s.pDiffPercentiles.count == 13)
        #expect(abs(s.pplRatio.value - s.pplQ.value / s.pplBase.value) < 1e-9)
        #expect(abs(s.pplDifference.value - (s.pplQ.value - s.pplBase.value)) < 1e-12)
        #expect(abs(s.rmsPDiff.value - (pDiff.map { Double($0 * $0) }.reduce(0, +) / 40).squareRoot()) < 1e-6)
        #expect(s.logPPLCorrelation > -1.0001 && s.logPPLCorrelation < 1.0001)
    }
}

/// `Engine.perplexity(basePath:)` and `Engine.klDivergence(base:)` on a synthetic model.
struct KLDivergenceEngineTests {
    static func engine(seed: UInt64) throws -> Engine {
        var m = SyntheticModel(.llama)
        m.seed = seed
        let path = KLDivergenceBaseTests.temporaryPath("model.gguf")
        try m.writer().write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Engine(path: path, threads: 2, contextLength: 32)
    }

    static let text = String(repeating: "the model of a thing ", count: 20)

    @Test func aModelAgainstItsOwnBase() throws {
        let e = try Self.engine(seed: 22)
        let path = KLDivergenceBaseTests.temporaryPath("own.kld")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let ppl = try e.perplexity(text: Self.text, contextLength: 16, maxChunks: 3, basePath: path)
        let base = try KLDivergenceBase(path: path)
        #expect(base.contextLength == 16 && base.chunks == 3 && base.vocabularySize == e.model.config.vocabSize)
        #expect(base.tokens == Array(e.perplexityTokens(Self.text).prefix(48)))
        var rows: [KLDivergenceChunkRow] = []
        let r = try e.klDivergence(base: base, text: (name: "text", content: Self.text)) { rows.append($0) }
        #expect(rows.map(\.chunk) == [1, 2, 3] && r.rows == rows)
        let s = r.statistics
        #expect(s.sums.count == ppl.scoredTokens)
        #expect(abs(s.pplQ.value - ppl.perplexity) < 1e-4 * ppl.perplexity)
        #expect(abs(s.pplBase.value - ppl.perplexity) < 1e-3 * ppl.perplexity)  // 16-bit quantized log-probs
        #expect(s.kld.value < 1e-4 && s.kld.value > -1e-4)
        #expect(s.sameTop.value == 1)
    }

    @Test func anotherModelDiverges() throws {
        let path = KLDivergenceBaseTests.temporaryPath("other.kld")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try Self.engine(seed: 22).perplexity(text: Self.text, contextLength: 16, maxChunks: 2, basePath: path)
        let s = try Self.engine(seed: 23).klDivergence(base: KLDivergenceBase(path: path)).statistics
        #expect(s.kld.value > 1e-3)
        #expect(s.pplBase.value != s.pplQ.value)
    }

    @Test func basesOfAnotherTokenizerOrTextAreRefused() throws {
        let e = try Self.engine(seed: 22)
        let n = e.model.config.vocabSize
        func base(vocabularySize: Int, tokens: [Int32]) throws -> KLDivergenceBase {
            let path = KLDivergenceBaseTests.temporaryPath("bad.kld")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let w = try KLDivergenceBaseWriter(path: path, contextLength: 8, vocabularySize: vocabularySize, tokens: tokens[...])
            let logits = [Float](repeating: 0, count: vocabularySize)
            for _ in 0..<3 { try logits.withUnsafeBufferPointer { _ = try w.append(logits: $0, target: 0) } }
            try w.finish()
            return try KLDivergenceBase(data: Data(contentsOf: URL(fileURLWithPath: path)), path: "b.kld")
        }
        let good = [Int32](repeating: 5, count: 8).enumerated().map { $0.offset == 0 ? Int32(2) : $0.element }
        #expect(throws: KLDivergenceBaseError.vocabularyMismatch(path: "b.kld", base: n + 1, model: n)) {
            try e.klDivergence(base: base(vocabularySize: n + 1, tokens: good))
        }
        var outside = good
        outside[3] = Int32(n)
        #expect(throws: KLDivergenceBaseError.tokenOutOfRange(path: "b.kld", token: Int32(n), vocabularySize: n)) {
            try e.klDivergence(base: base(vocabularySize: n, tokens: outside))
        }
        var noBOS = good
        noBOS[0] = 5
        #expect(throws: KLDivergenceBaseError.firstTokenIsNotBOS(path: "b.kld", token: 5, bos: 2)) {
            try e.klDivergence(base: base(vocabularySize: n, tokens: noBOS))
        }
        #expect(throws: KLDivergenceBaseError.tokensDiffer(path: "b.kld", text: "t.txt", position: 1)) {
            try e.klDivergence(base: base(vocabularySize: n, tokens: good), text: (name: "t.txt", content: Self.text))
        }
    }

    @Test func aTextShorterThanOneChunkIsRefused() throws {
        let e = try Self.engine(seed: 22)
        let path = KLDivergenceBaseTests.temporaryPath("short.kld")
        let tokens = e.perplexityTokens("the model").count
        #expect(throws: PerplexityError.textTooShort(tokens: tokens, contextLength: 16)) {
            try e.perplexity(text: "the model", contextLength: 16, basePath: path)
        }
        #expect(!FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + ".part"))
    }
}
