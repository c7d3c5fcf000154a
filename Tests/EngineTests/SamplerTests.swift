import Engine
import Foundation
import SeededRandom
import Testing

struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 3.0, 0.5]

    func sample(_ p: SamplingParameters, times: Int = 1) -> [Int32] {
        var s = Sampler(p)
        return logits.withUnsafeBufferPointer { buf in (0..<times).map { _ in s.sample(buf) } }
    }

    @Test func greedyTakesTheFirstLargest() {
        #expect(sample(.greedy, times: 3) == [1, 1, 1])
    }

    @Test func sameSeedSameTokensOtherSeedOtherTokens() {
        let p = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 42)
        #expect(sample(p, times: 50) == sample(p, times: 50))
        var q = p
        q.seed = 43
        #expect(sample(p, times: 50) != sample(q, times: 50))
    }

    @Test func topKOneIsGreedy() {
        #expect(Set(sample(SamplingParameters(temperature: 2, topK: 1, topP: 1, minP: 0, seed: 1), times: 30)) == [1])
    }

    @Test func topKLimitsTheCandidates() {
        let seen = Set(sample(SamplingParameters(temperature: 5, topK: 3, topP: 1, minP: 0, seed: 7), times: 400))
        #expect(seen == [1, 4, 2])
    }

    @Test func minPDropsUnlikelyTokens() {
        // p(i)/p(max) = e^(l_i − 3): 2.5 → 0.61 kept, 1.0 → 0.14 dropped at min-p 0.5.
        let seen = Set(sample(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0.5, seed: 3), times: 400))
        #expect(seen == [1, 4, 2])
    }

    @Test func frequenciesFollowTheSoftmax() {
        let n = 20_000
        let draws = sample(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 9), times: n)
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        for i in logits.indices {
            let expected = exp(Double(logits[i])) / z
            let observed = Double(draws.filter { $0 == Int32(i) }.count) / Double(n)
            #expect(abs(observed - expected) < 0.015, "token \(i): \(observed) vs \(expected)")
        }
    }

    @Test func repetitionPenaltyLowersSeenTokens() {
        var s = Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 2))
        let t = logits.withUnsafeBufferPointer { s.sample($0, history: [1, 4]) }
        #expect(t == 2)
    }

    @Test func topLogprobsAreSortedAndNormalized() {
        let top = logits.withUnsafeBufferPointer { LogProbs.top(3, of: $0) }
        #expect(top.map(\.id) == [1, 4, 2])
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        #expect(abs(Double(top[0].logprob) - (3 - log(z))) < 1e-5)
    }
}

struct OpenAIPenaltyTests {
    @Test func frequencyAndPresencePenaltiesSubtractPerOccurrenceAndOnce() {
        // logits [1, 3, 2.5]; history has token 1 twice, token 2 once.
        let logits: [Float] = [1.0, 3.0, 2.5]
        func greedy(_ frequency: Float, _ presence: Float) -> Int32 {
            var s = Sampler(SamplingParameters(temperature: 0, frequencyPenalty: frequency, presencePenalty: presence))
            return logits.withUnsafeBufferPointer { s.sample($0, history: [1, 1, 2]) }
        }
        #expect(greedy(0, 0) == 1)
        #expect(greedy(0.2, 0) == 1)     // token 1: 3 - 2 * 0.2 = 2.6 > token 2: 2.5 - 0.2 = 2.3
        #expect(greedy(0.6, 0) == 2)     // 3 - 1.2 = 1.8 < 2.5 - 0.6 = 1.9
        #expect(greedy(1.0, 0) == 2)     // 1.0 < 1.5 (token 0 stays 1.0)
        #expect(greedy(0.4, 0.3) == 1)   // 3 - 0.8 - 0.3 = 1.9 > 2.5 - 0.4 - 0.3 = 1.8
        #expect(greedy(0, 2.5) == 0)     // 0.5 and 0.0 < 1
        #expect(greedy(-1, 0) == 1)      // negative penalties favour repeats
    }

    /// The sampler before it stopped sorting the whole vocabulary: every candidate sorted (larger logit first, smaller id on
    /// ties), top-k, softmax at the temperature, top-p over the whole mass, min-p, then the inverse CDF in that order.
    static func referenceDraw(_ logits: [Float], _ p: SamplingParameters, _ rng: inout SplitMix64) -> Int32 {
        var c = logits.enumerated().map { (id: Int32($0.offset), logit: $0.element) }
        c.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if p.topK > 0 && p.topK < c.count { c.removeLast(c.count - p.topK) }
        var probs = c.map { Double(exp(($0.logit - c[0].logit) / p.temperature)) }
        let total = probs.reduce(0, +)
        var keep = probs.count
        if p.topP < 1 {
            var cum = 0.0
            for (i, q) in probs.enumerated() { cum += q / total; if cum >= Double(p.topP) { keep = i + 1; break } }
        }
        if p.minP > 0 { keep = min(keep, max(1, probs.prefix(keep).firstIndex { $0 < probs[0] * Double(p.minP) } ?? keep)) }
        probs.removeLast(probs.count - keep)
        var r = rng.nextDouble() * probs.reduce(0, +)
        for (i, q) in probs.enumerated() { r -= q; if r < 0 { return c[i].id } }
        return c[keep - 1].id
    }

    /// A vocabulary of 8,000 peaked logits (a few likely tokens, a long tail, ties included).
    static func vocabulary(seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<8_000).map { i in
            let u = Float(rng.nextDouble())
            return i % 397 == 0 ? 8 + 4 * u : (i % 5000 == 1 ? 8 : 6 * u - 3)
        }
    }

    /// Wherever the draw runs over sorted candidates (top-k, top-p), the tokens are exactly the full sort's, seed for seed;
    /// top-k picks its k from a heap, top-p sorts only the batches it needs.
    @Test(arguments: [
        SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1),
        SamplingParameters(temperature: 1.5, topK: 3, topP: 1, minP: 0, seed: 2),
        SamplingParameters(temperature: 3, topK: 1500, topP: 0.9, minP: 0, seed: 3),
        SamplingParameters(temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 4),
        SamplingParameters(temperature: 4, topK: 0, topP: 0.99, minP: 0.01, seed: 5),
        SamplingParameters(temperature: 0.7, topK: 0, topP: 0.5, minP: 0.2, seed: 6),
    ]) func sortedDrawsEqualTheFullSort(_ p: SamplingParameters) {
        let logits = Self.vocabulary(seed: p.seed)
        var s = Sampler(p)
        var rng = SplitMix64(seed: p.seed)
        let ours = logits.withUnsafeBufferPointer { buf in (0..<120).map { _ in s.sample(buf) } }
        let reference = (0..<120).map { _ in Self.referenceDraw(logits, p, &rng) }
        #expect(ours == reference)
        #expect(Set(ours).count > 1)
    }

    /// Without top-k and top-p the draw walks the vocabulary in index order: the same distribution, so the frequencies
    /// follow the softmax over the tokens min-p keeps, and nothing below min-p's floor is ever drawn.
    @Test func unsortedDrawsFollowTheSoftmaxAboveTheFloor() {
        func logit(_ i: Int) -> Float {
            if i == 500 { return 4 }
            if i % 200 == 0 { return 3 }
            if i % 7 == 0 { return 1.5 }
            return Float(i % 11) / 11
        }
        let logits = (0..<600).map(logit)
        for minP: Float in [0, 0.1] {
            var s = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: minP, seed: 11))
            let n = 20_000
            var counts = [Int](repeating: 0, count: logits.count)
            logits.withUnsafeBufferPointer { buf in for _ in 0..<n { counts[Int(s.sample(buf))] += 1 } }
            let weights = logits.map { exp(Double($0 - 4)) }.map { $0 >= Double(minP) ? $0 : 0 }
            let total = weights.reduce(0, +)
            for i in [500, 0, 200, 7, 14, 1, 2] {
                let expected = Double(n) * weights[i] / total
                let sd = (expected * (1 - weights[i] / total)).squareRoot()
                if expected == 0 { #expect(counts[i] == 0, "token \(i) is below the min-p floor") } else {
                    #expect(abs(Double(counts[i]) - expected) < 5 * sd + 1, "token \(i): \(counts[i]) vs \(expected) (min-p \(minP))")
                }
            }
            if minP > 0 { #expect(zip(counts, weights).allSatisfy { $0.1 > 0 || $0.0 == 0 }) }
        }
    }
}
