import Foundation

/// Summary statistics as the benchmarks report them.
public enum Statistics {
    /// Arithmetic mean; 0 for no values.
    public static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count)
    }

    /// Sample standard deviation (divisor n − 1, as llama-bench's `stdev` and numpy's `std(ddof=1)`);
    /// 0 for fewer than two values.
    public static func sampleStandardDeviation(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let m = mean(xs)
        let ss = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(xs.count - 1)).squareRoot()
    }

    /// The p-th percentile (0...100) with linear interpolation between closest ranks: rank
    /// p/100 × (n − 1) in the sorted values, numpy's default (`method="linear"`, Hyndman–Fan type 7),
    /// which vLLM's benchmark_serving uses. nil for no values.
    public static func percentile(_ xs: [Double], _ p: Double) -> Double? {
        guard !xs.isEmpty else { return nil }
        let sorted = xs.sorted()
        return percentile(sorted: sorted, p)
    }

    static func percentile(sorted: [Double], _ p: Double) -> Double {
        let rank = min(max(p, 0), 100) / 100 * Double(sorted.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        let frac = rank - Double(lo)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * frac
    }

    /// Mean, median, p90, p99, standard deviation, min, max of one metric.
    public static func summary(_ xs: [Double]) -> Summary {
        guard !xs.isEmpty else { return Summary(count: 0) }
        let sorted = xs.sorted()
        return Summary(count: xs.count, mean: mean(xs), median: percentile(sorted: sorted, 50),
                       p90: percentile(sorted: sorted, 90), p99: percentile(sorted: sorted, 99),
                       standardDeviation: sampleStandardDeviation(xs), min: sorted.first, max: sorted.last)
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var count: Int
        public var mean: Double?
        public var median: Double?
        public var p90: Double?
        public var p99: Double?
        public var standardDeviation: Double?
        public var min: Double?
        public var max: Double?

        public init(count: Int, mean: Double? = nil, median: Double? = nil, p90: Double? = nil, p99: Double? = nil,
                    standardDeviation: Double? = nil, min: Double? = nil, max: Double? = nil) {
            self.count = count; self.mean = mean; self.median = median; self.p90 = p90; self.p99 = p99
            self.standardDeviation = standardDeviation; self.min = min; self.max = max
        }
    }
}
