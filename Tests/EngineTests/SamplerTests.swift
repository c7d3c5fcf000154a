import Engine
import Foundation
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
}
