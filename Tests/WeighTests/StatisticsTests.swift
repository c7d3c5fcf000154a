import Foundation
import Testing
@testable import Weigh

/// Statistics against numpy (Tests/Fixtures/bench/statistics.json, scripts/oracle/bench_stats_fixture.py).
struct StatisticsTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let values: [Double]
            let mean: Double
            let sampleStandardDeviation: Double
            let percentileValues: [Double]
        }
        let percentiles: [Double]
        let cases: [Case]
    }

    static func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/bench/statistics.json")))
    }

    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }

    @Test func meanAndSampleStandardDeviationMatchNumpy() throws {
        let f = try Self.fixture()
        #expect(f.cases.count >= 8)
        for c in f.cases {
            #expect(close(Statistics.mean(c.values), c.mean), "mean of \(c.values.count) values")
            #expect(close(Statistics.sampleStandardDeviation(c.values), c.sampleStandardDeviation), "sd of \(c.values.count) values")
        }
    }

    @Test func percentilesMatchNumpyLinear() throws {
        let f = try Self.fixture()
        for c in f.cases {
            for (p, expected) in zip(f.percentiles, c.percentileValues) {
                let got = try #require(Statistics.percentile(c.values.shuffled(), p))
                #expect(close(got, expected), "p\(p) of \(c.values.count) values: \(got) vs numpy \(expected)")
            }
        }
    }

    @Test func summaryOfKnownValues() {
        let s = Statistics.summary([4, 1, 3, 2])
        #expect(s.count == 4 && s.mean == 2.5 && s.median == 2.5 && s.min == 1 && s.max == 4)
        #expect(close(s.p90!, 3.7) && close(s.p99!, 3.97))
        #expect(Statistics.summary([]).mean == nil)
        #expect(Statistics.percentile([], 50) == nil)
        #expect(Statistics.sampleStandardDeviation([7]) == 0)
    }
}
