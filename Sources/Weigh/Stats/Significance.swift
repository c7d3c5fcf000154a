import Foundation
import SeededRandom

/// Statistics for comparing two models: summaries, McNemar's exact test for paired right/wrong outcomes,
/// Welch's t-test for timing repetitions, and a seeded paired bootstrap for ratios and scores.
/// Expected values in the tests come from scipy (scripts/oracle/stats_fixtures.py).
public enum Significance {
    public static func mean(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count) }

    /// Sample standard deviation (n − 1 in the denominator).
    public static func sampleStandardDeviation(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    /// Standard error of the mean, sample sd / √n (scipy.stats.sem; lm-evaluation-harness's stderr for acc).
    public static func standardError(_ x: [Double]) -> Double {
        sampleStandardDeviation(x) / Double(x.count).squareRoot()
    }

    // MARK: McNemar

    public struct McNemarResult: Codable, Sendable, Equatable {
        /// Items A got right and B wrong.
        public var onlyA: Int
        /// Items B got right and A wrong.
        public var onlyB: Int
        public var pValue: Double
    }

    /// McNemar's exact test: under "equally accurate", the discordant items split as Binomial(b + c, 1/2);
    /// the two-sided p-value is 2 × P(X ≤ min(b, c)), capped at 1 (scipy.stats.binomtest(min, b + c, 0.5)).
    public static func mcNemar(onlyA b: Int, onlyB c: Int) -> McNemarResult {
        let n = b + c
        guard n > 0 else { return McNemarResult(onlyA: b, onlyB: c, pValue: 1) }
        let k = min(b, c)
        if 2 * k == n { return McNemarResult(onlyA: b, onlyB: c, pValue: 1) }
        let p = min(1, 2 * binomialCDFHalf(k, n))
        return McNemarResult(onlyA: b, onlyB: c, pValue: p)
    }

    /// P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space so large n does not underflow term by term.
    static func binomialCDFHalf(_ k: Int, _ n: Int) -> Double {
        let logHalfN = Double(n) * log(0.5)
        var terms: [Double] = []
        terms.reserveCapacity(k + 1)
        for i in 0...k { terms.append(logChoose(n, i) + logHalfN) }
        let top = terms.max()!
        return exp(top) * terms.reduce(0) { $0 + exp($1 - top) }
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }

    // MARK: Welch

    public struct WelchResult: Codable, Sendable, Equatable {
        public var t: Double
        public var degreesOfFreedom: Double
        public var pValue: Double
    }

    /// Welch's unequal-variance t-test, two-sided (scipy.stats.ttest_ind(a, b, equal_var=False)).
    /// Needs at least two values on each side; when both variances are zero the means decide (p 0 or 1).
    public static func welch(_ a: [Double], _ b: [Double]) -> WelchResult? {
        guard a.count > 1, b.count > 1 else { return nil }
        let va = pow(sampleStandardDeviation(a), 2) / Double(a.count)
        let vb = pow(sampleStandardDeviation(b), 2) / Double(b.count)
        let diff = mean(a) - mean(b)
        guard va + vb > 0 else {
            return WelchResult(t: diff == 0 ? 0 : diff.sign == .minus ? -.infinity : .infinity, degreesOfFreedom: .nan,
                               pValue: diff == 0 ? 1 : 0)
        }
        let t = diff / (va + vb).squareRoot()
        let df = pow(va + vb, 2) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        let p = regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5)
        return WelchResult(t: t, degreesOfFreedom: df, pValue: min(1, max(0, p)))
    }

    /// I_x(a, b) by its continued fraction (modified Lentz), using the symmetry I_x(a,b) = 1 − I_{1−x}(b,a)
    /// where the fraction converges slowly.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logFront: Double = logBeta + a * log(x) + b * log(1 - x)
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...500 {
            let m = Double(m)
            let even: Double = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d; if abs(d) < tiny { d = tiny }
            c = 1 + even / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; f *= d * c
            let odd: Double = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d; if abs(d) < tiny { d = tiny }
            c = 1 + odd / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            f *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return exp(logFront) * f / a
    }

    // MARK: Paired bootstrap

    public struct BootstrapResult: Codable, Sendable, Equatable {
        /// metric(A) − metric(B) on the items as they are.
        public var difference: Double
        /// Standard deviation of the resampled differences.
        public var standardError: Double
        /// 95% percentile interval of the resampled differences.
        public var lower: Double
        public var upper: Double
        /// Two-sided: twice the share of resamples on the far side of zero from the observed difference.
        public var pValue: Double
        public var resamples: Int
        public var seed: UInt64
    }

    /// A paired bootstrap over items: each resample draws n item indices with replacement and applies the same
    /// draw to both models. The metric of one model on a resample is Σ value / Σ weight (bits per byte:
    /// value = bits, weight = bytes; a mean score: weight 1).
    public static func pairedBootstrap(a: [Double], b: [Double], weights: [Double]? = nil, resamples: Int = 10_000,
                                       seed: UInt64 = 1234) -> BootstrapResult {
        precondition(a.count == b.count && (weights?.count ?? a.count) == a.count && !a.isEmpty)
        let w = weights ?? Array(repeating: 1, count: a.count)
        func metric(_ x: [Double], _ idx: [Int]?) -> Double {
            var s = 0.0, ws = 0.0
            if let idx { for i in idx { s += x[i]; ws += w[i] } } else { for i in x.indices { s += x[i]; ws += w[i] } }
            return s / ws
        }
        let observed = metric(a, nil) - metric(b, nil)
        var rng = SplitMix64(seed: seed)
        var diffs: [Double] = []
        diffs.reserveCapacity(resamples)
        var idx = [Int](repeating: 0, count: a.count)
        for _ in 0..<resamples {
            for j in idx.indices { idx[j] = rng.nextInt(below: a.count) }
            var sa = 0.0, sb = 0.0, ws = 0.0
            for i in idx { sa += a[i]; sb += b[i]; ws += w[i] }
            diffs.append((sa - sb) / ws)
        }
        diffs.sort()
        let sd = sampleStandardDeviation(diffs)
        let atOrBelow = Double(diffs.filter { $0 <= 0 }.count) / Double(resamples)
        let atOrAbove = Double(diffs.filter { $0 >= 0 }.count) / Double(resamples)
        let p = observed == 0 ? 1 : min(1, 2 * (observed > 0 ? atOrBelow : atOrAbove))
        return BootstrapResult(difference: observed, standardError: sd, lower: percentile(diffs, 2.5),
                               upper: percentile(diffs, 97.5), pValue: p, resamples: resamples, seed: seed)
    }

    /// Exact paired permutation (sign-flip) test: every way of swapping the two values within pairs
    /// (2^n, so n ≤ 20), two-sided p = share of swaps whose |Σ(a−b)/Σw| is at least the observed one.
    /// Used where a bootstrap over a handful of items would be overconfident: with 4 items p ≥ 2/16.
    public static func pairedPermutation(a: [Double], b: [Double], weights: [Double]? = nil) -> Double {
        precondition(a.count == b.count && !a.isEmpty && a.count <= 20)
        let w = (weights ?? Array(repeating: 1, count: a.count)).reduce(0, +)
        let d = zip(a, b).map { ($0 - $1) / w }
        let observed = abs(d.reduce(0, +))
        var atLeast = 0
        let total = 1 << d.count
        for mask in 0..<total {
            var s = 0.0
            for i in d.indices { s += mask & (1 << i) != 0 ? -d[i] : d[i] }
            if abs(s) >= observed * (1 - 1e-12) { atLeast += 1 }
        }
        return Double(atLeast) / Double(total)
    }

    // MARK: Resolution

    /// The standard normal quantile Φ⁻¹(p) for 0 < p < 1 (scipy.stats.norm.ppf), by bisection on
    /// Φ(x) = erfc(−x/√2)/2 to double precision.
    public static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1)
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-15 { break }
        }
        return (lo + hi) / 2
    }

    /// The smallest true difference a two-sided test at `alpha` detects with probability `power`, given the
    /// standard error of the estimated difference: (z₁₋α/₂ + z_power) × SE (normal approximation).
    public static func detectableDifference(standardError: Double, alpha: Double, power: Double = 0.8) -> Double {
        (normalQuantile(1 - alpha / 2) + normalQuantile(power)) * standardError
    }

    /// Paired right/wrong outcomes: the smallest accuracy difference McNemar's test at `alpha` detects with
    /// probability `power` over `n` items, given the observed discordant counts. The normal approximation uses the
    /// variance of the per-item differences (b + c)/n − ((b − c)/n)²; it is never below what the exact test can
    /// reach at all: k discordant items all one way give p = 2⁻ᵏ⁺¹, so at least the smallest such k out of n.
    public static func detectableAccuracyDifference(onlyA b: Int, onlyB c: Int, n: Int, alpha: Double, power: Double = 0.8) -> Double {
        guard n > 0 else { return .infinity }
        let nd = Double(n)
        let variance = max(0, Double(b + c) / nd - pow(Double(b - c) / nd, 2))
        var k = 1
        while mcNemar(onlyA: k, onlyB: 0).pValue >= alpha { k += 1 }
        if k > n { return .infinity }
        return max(detectableDifference(standardError: (variance / nd).squareRoot(), alpha: alpha, power: power), Double(k) / nd)
    }

    /// Whether the exact paired permutation test over `n` pairs can give p < `alpha` at all (its smallest p is 2/2ⁿ).
    public static func permutationCanReach(alpha: Double, n: Int) -> Bool {
        n < 63 && 2.0 / Double(UInt64(1) << UInt64(n)) < alpha
    }

    /// Linear interpolation between closest ranks (numpy's default "linear" method) on sorted values.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let pos = q / 100 * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }
}

