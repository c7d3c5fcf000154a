import Foundation
import SeededRandom

/// Aggregates as lm-evaluation-harness computes them.
public enum EvalStatistics {
    public static func mean(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count) }

    /// Sample standard deviation (n − 1), lm-eval's `sample_stddev`.
    public static func sampleStddev(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    /// Standard error of the mean: sample stddev / √n (lm-eval's `mean_stderr`).
    public static func meanStderr(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        return sampleStddev(x) / Double(x.count).squareRoot()
    }

    /// Bootstrap standard error of `statistic` over items: `resamples` draws with replacement,
    /// seeded, the stddev of the statistic across them.
    public static func bootstrapStderr<T>(_ items: [T], resamples: Int = 1000, seed: UInt64 = 1234,
                                          _ statistic: ([T]) -> Double) -> Double {
        guard items.count > 1 else { return .nan }
        var rng = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var draw: [T] = []
        draw.reserveCapacity(items.count)
        for _ in 0..<resamples {
            draw.removeAll(keepingCapacity: true)
            for _ in 0..<items.count { draw.append(items[rng.below(items.count)]) }
            values.append(statistic(draw))
        }
        return sampleStddev(values)
    }
}
