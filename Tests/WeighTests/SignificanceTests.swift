import Foundation
import Testing
import SeededRandom
@testable import Weigh

/// Statistics against scipy (Tests/Fixtures/stats/scipy.json, made by scripts/oracle/stats_fixtures.py).
@Suite struct SignificanceTests {
    static func cases(_ key: String) -> [[String: Any]] {
        let data = try! Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/stats/scipy.json"))
        return (try! JSONSerialization.jsonObject(with: data) as! [String: Any])[key] as! [[String: Any]]
    }
    static func doubles(_ v: Any?) -> [Double] { (v as! [Any]).map { ($0 as! NSNumber).doubleValue } }

    @Test func mcNemarMatchesScipyBinomtest() {
        for c in Self.cases("mcnemar") {
            let b = c["b"] as! Int, n = c["c"] as! Int, p = (c["p"] as! NSNumber).doubleValue
            let r = Significance.mcNemar(onlyA: b, onlyB: n)
            #expect(abs(r.pValue - p) <= 1e-9 * max(1, p), "b=\(b) c=\(n): \(r.pValue) vs scipy \(p)")
        }
    }

    @Test func welchMatchesScipyTtestInd() throws {
        for c in Self.cases("welch") {
            let r = try #require(Significance.welch(Self.doubles(c["a"]), Self.doubles(c["b"])))
            #expect(abs(r.t - (c["t"] as! NSNumber).doubleValue) < 1e-9)
            #expect(abs(r.degreesOfFreedom - (c["df"] as! NSNumber).doubleValue) < 1e-8)
            #expect(abs(r.pValue - (c["p"] as! NSNumber).doubleValue) < 1e-9, "p \(r.pValue) vs \(c["p"]!)")
        }
        #expect(Significance.welch([1], [2, 3]) == nil)
        #expect(Significance.welch([2, 2], [2, 2])?.pValue == 1)
        #expect(Significance.welch([2, 2], [3, 3])?.pValue == 0)
    }

    @Test func standardErrorMatchesScipySem() {
        for c in Self.cases("sem") {
            let x = Self.doubles(c["x"])
            #expect(abs(Significance.mean(x) - (c["mean"] as! NSNumber).doubleValue) < 1e-12)
            #expect(abs(Significance.sampleStandardDeviation(x) - (c["sd"] as! NSNumber).doubleValue) < 1e-12)
            #expect(abs(Significance.standardError(x) - (c["sem"] as! NSNumber).doubleValue) < 1e-12)
        }
    }

    /// Monte Carlo quantities agree within their sampling error: 10,000 resamples here, 20,000 in scipy.
    /// Hand-counted over all 2^n sign swaps: d = (1,1,1,1): only the two uniform swaps reach |4| → 2/16;
    /// d = (3,−1,1,1), observed 4: ±3 plus (±1±1±1) reaches |4| in 4 + 4 of 16 → 0.5; d = (2,0,0): every swap → 1.
    /// Values from scipy 1.17.1 (scipy.stats.norm.ppf).
    @Test func normalQuantileMatchesScipy() {
        for (p, z) in [(0.975, 1.959963984540054), (0.8, 0.8416212335729143), (0.995, 2.5758293035489004), (0.001, -3.090232306167813)] {
            #expect(abs(Significance.normalQuantile(p) - z) < 1e-12, "Φ⁻¹(\(p))")
        }
    }

    /// The resolution by hand: no discordant items over 100 → the exact floor, 6 items all one way (p = 2/64 < 0.05,
    /// 5 give 2/32 > 0.05) = 6 points; b = 10, c = 5 over 100: variance 0.15 − 0.05² = 0.1475,
    /// (1.95996 + 0.84162) × √(0.1475/100) = 0.107597.
    @Test func detectableDifferenceByHand() {
        #expect(Significance.detectableAccuracyDifference(onlyA: 0, onlyB: 0, n: 100, alpha: 0.05) == 0.06)
        #expect(abs(Significance.detectableAccuracyDifference(onlyA: 10, onlyB: 5, n: 100, alpha: 0.05) - 0.107597) < 1e-6)
        #expect(Significance.detectableAccuracyDifference(onlyA: 0, onlyB: 0, n: 4, alpha: 0.05) == .infinity)
        #expect(!Significance.permutationCanReach(alpha: 0.05, n: 4) && !Significance.permutationCanReach(alpha: 0.05, n: 5))
        #expect(Significance.permutationCanReach(alpha: 0.05, n: 6))
        #expect(abs(Significance.detectableDifference(standardError: 0.01, alpha: 0.05) - 0.028015852181129683) < 1e-12)
    }

    /// The detectable difference means what it says: when the true accuracy difference equals it, McNemar's test at
    /// α = 0.05 rejects in about 80% of seeded simulated runs (300 items, discordant rate 0.2).
    @Test func detectableAccuracyDifferenceHasItsPower() {
        let n = 300
        let mdd = Significance.detectableAccuracyDifference(onlyA: 30, onlyB: 30, n: n, alpha: 0.05)
        var rng = SplitMix64(seed: 7)
        var rejected = 0
        let runs = 2000
        for _ in 0..<runs {
            var b = 0, c = 0
            for _ in 0..<n {
                let u = rng.nextDouble()
                if u < 0.1 + mdd / 2 { b += 1 } else if u < 0.2 { c += 1 }
            }
            if Significance.mcNemar(onlyA: b, onlyB: c).pValue < 0.05 { rejected += 1 }
        }
        let power = Double(rejected) / Double(runs)
        #expect(power > 0.72 && power < 0.88, "power at the detectable difference \(mdd): \(power)")
        // Four times the items halve it (the exact floor aside).
        #expect(Significance.detectableAccuracyDifference(onlyA: 30, onlyB: 30, n: 4 * n, alpha: 0.05) < mdd * 0.51)
    }

    @Test func pairedPermutationCountsEverySwap() {
        #expect(Significance.pairedPermutation(a: [2, 2, 2, 2], b: [1, 1, 1, 1]) == 0.125)
        #expect(Significance.pairedPermutation(a: [4, 0, 2, 2], b: [1, 1, 1, 1]) == 0.5)
        #expect(Significance.pairedPermutation(a: [3, 1, 1], b: [1, 1, 1]) == 1)
        // Weights scale every swap alike: the p-value does not change.
        #expect(Significance.pairedPermutation(a: [2, 2, 2, 2], b: [1, 1, 1, 1], weights: [5, 1, 7, 3]) == 0.125)
    }

    @Test func pairedBootstrapAgreesWithScipyBootstrap() {
        for c in Self.cases("bootstrap") {
            let name = c["name"] as! String
            let r = Significance.pairedBootstrap(a: Self.doubles(c["a"]), b: Self.doubles(c["b"]), weights: Self.doubles(c["weights"]),
                                               resamples: 10_000, seed: 42)
            let se = (c["standard_error"] as! NSNumber).doubleValue
            #expect(abs(r.difference - (c["difference"] as! NSNumber).doubleValue) < 1e-12, "\(name)")
            #expect(abs(r.standardError / se - 1) < 0.04, "\(name): se \(r.standardError) vs scipy \(se)")
            #expect(abs(r.lower - (c["lower"] as! NSNumber).doubleValue) < 0.15 * se + 1e-12, "\(name): lower \(r.lower)")
            #expect(abs(r.upper - (c["upper"] as! NSNumber).doubleValue) < 0.15 * se + 1e-12, "\(name): upper \(r.upper)")
            #expect(abs(r.pValue - (c["p"] as! NSNumber).doubleValue) < 0.025, "\(name): p \(r.pValue) vs \(c["p"]!)")
        }
    }

    @Test func bootstrapIsReproducibleForASeed() {
        let a = (0..<50).map { Double($0 % 7) }, b = (0..<50).map { Double($0 % 5) }
        let r1 = Significance.pairedBootstrap(a: a, b: b, resamples: 500, seed: 9)
        let r2 = Significance.pairedBootstrap(a: a, b: b, resamples: 500, seed: 9)
        let r3 = Significance.pairedBootstrap(a: a, b: b, resamples: 500, seed: 10)
        #expect(r1 == r2)
        #expect(r1.standardError != r3.standardError)
    }

    @Test func percentileIsNumpyLinear() {
        // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 90, 100]) = [1, 1.75, 2.5, 3.7, 4]
        let s = [1.0, 2, 3, 4]
        for (q, v) in [(0.0, 1.0), (25, 1.75), (50, 2.5), (90, 3.7), (100, 4)] {
            #expect(abs(Significance.percentile(s, q) - v) < 1e-12)
        }
    }
}
