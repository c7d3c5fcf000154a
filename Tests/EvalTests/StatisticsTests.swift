import Foundation
import SeededRandom
import Testing
@testable import Weigh

struct StatisticsTests {
    @Test func sha256KnownVectors() {
        // FIPS 180-4 examples.
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func meanAndStderrAsLmEval() {
        let x: [Double] = [1, 0, 1, 1]
        #expect(EvalStatistics.mean(x) == 0.75)
        #expect(abs(EvalStatistics.sampleStddev(x) - 0.5) < 1e-12)
        #expect(abs(EvalStatistics.meanStderr(x) - 0.25) < 1e-12)
        #expect(EvalStatistics.meanStderr([1]).isNaN)
    }

    @Test func bootstrapOfTheMeanApproachesTheAnalyticStderr() {
        var rng = SplitMix64(seed: 7)
        let x = (0..<400).map { _ in Double(rng.below(2)) }
        let boot = EvalStatistics.bootstrapStderr(x, resamples: 2000, EvalStatistics.mean)
        let analytic = EvalStatistics.meanStderr(x)
        #expect(abs(boot - analytic) / analytic < 0.1)
        // Seeded: the same value twice.
        #expect(boot == EvalStatistics.bootstrapStderr(x, resamples: 2000, EvalStatistics.mean))
    }

    @Test func seededPermutationsAreDeterministicAndComplete() {
        var a = SplitMix64(seed: 1, stream: "x"), b = SplitMix64(seed: 1, stream: "x"), c = SplitMix64(seed: 1, stream: "y")
        let pa = a.permutation(50)
        #expect(pa == b.permutation(50))
        #expect(pa != c.permutation(50))
        #expect(pa.sorted() == Array(0..<50))
    }
}
