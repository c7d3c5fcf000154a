import Foundation
import Testing
@testable import Weigh

/// llama-bench's JSON on a real output (Tests/Fixtures/bench/llama-bench-smollm2.json; command in the README there).
struct LlamaBenchTests {
    @Test func parsesRealOutput() throws {
        let data = try Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/bench/llama-bench-smollm2.json"))
        let records = try LlamaBench.parse(data)
        #expect(records.count == 6)
        #expect(Set(records.map(\.testName)) == ["pp64", "pp64 @ d64", "tg16", "tg16 @ d64", "pp32+tg8", "pp32+tg8 @ d64"])
        for r in records {
            #expect(r.nThreads == 1 && r.modelFilename.hasSuffix("smollm2-135m.gguf") && r.typeK == "f16")
            #expect(r.samplesNanoseconds.count == 2 && r.samplesTokensPerSecond.count == 2)
            // avg_ts is the mean of the per-sample rates, each (n_prompt + n_gen) / seconds.
            let rates = r.samplesNanoseconds.map { Double(r.nPrompt + r.nGen) / (Double($0) / 1e9) }
            #expect(abs(Statistics.mean(rates) - r.avgTokensPerSecond) < 1e-3 * r.avgTokensPerSecond)
            #expect(abs(Statistics.sampleStandardDeviation(rates) - r.sdTokensPerSecond) < 1e-3 * max(1, r.sdTokensPerSecond))
        }
        #expect(records.first?.modelSize == 96_576_768 && records.first?.modelParams == 134_515_008)
    }

    @Test func badOutputIsAClearError() {
        #expect(throws: BenchError.self) { try LlamaBench.parse(Data("not json".utf8)) }
        #expect(throws: BenchError.self) { try LlamaBench.parse(Data("[{\"n_prompt\": 1}]".utf8)) }
        #expect(throws: BenchError.self) { try LlamaBench(executable: "/nonexistent/llama-bench", repetitions: 5) }
    }

    @Test func argumentsSelectExactlyOneTest() throws {
        let lb = try LlamaBench(executable: "/bin/sh", repetitions: 5)
        let pg = lb.arguments(model: "m.gguf", spec: BenchTestSpec(nPrompt: 512, nGen: 128, depth: 4096, threads: 2))
        #expect(pg.joined(separator: " ") == "-m m.gguf -t 2 -r 5 -d 4096 -ctk f16 -ctv f16 -o json -p 0 -n 0 -pg 512,128")
        let tg = lb.arguments(model: "m.gguf", spec: BenchTestSpec(nPrompt: 0, nGen: 128, depth: 0, threads: 1))
        #expect(tg.suffix(4) == ["-p", "0", "-n", "128"])
    }

    /// `compare` runs the binary, picks the record of the same test and divides the means; here the
    /// "binary" is a script that prints the committed real output and checks the arguments it got.
    @Test func compareRunsTheBinaryAndTakesTheMatchingTest() throws {
        let fixture = repoRoot.appendingPathComponent("Tests/Fixtures/bench/llama-bench-smollm2.json").path
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("fake-llama-bench-\(UUID().uuidString).sh").path
        try """
            #!/bin/sh
            case "$*" in *"-d 64"*"-p 0 -n 16"*) cat '\(fixture)' ;; *) echo "unexpected arguments: $*" >&2; exit 3 ;; esac
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let lb = try LlamaBench(executable: script, repetitions: 2)
        var test = BenchTest(name: "tg16 @ d64", nPrompt: 0, nGen: 16, depth: 64, threads: 1, isa: "avx2", cacheType: "f16",
                             contextLength: 80, kvCacheBytes: 0, samplesSeconds: [1, 1], samplesTokensPerSecond: [16, 16],
                             meanTokensPerSecond: 16, sdTokensPerSecond: 0)
        try lb.compare(model: "m.gguf", test: &test)
        let l = try #require(test.llamaCpp)
        let records = try LlamaBench.parse(Data(contentsOf: URL(fileURLWithPath: fixture)))
        let expected = try #require(records.first { $0.testName == "tg16 @ d64" })
        #expect(l.meanTokensPerSecond == expected.avgTokensPerSecond && l.samplesTokensPerSecond == expected.samplesTokensPerSecond)
        #expect(abs(l.ratio - 16 / expected.avgTokensPerSecond) < 1e-12)
        #expect((l.peakResidentBytes ?? 0) > 0 && l.buildCommit == "2217304")
        // A failing binary is a clear error with its last stderr line.
        var other = test
        other.depth = 0
        #expect(throws: BenchError.llamaBenchFailed(status: 3, message: "unexpected arguments: -m m.gguf -t 1 -r 2 -d 0 -ctk f16 -ctv f16 -o json -p 0 -n 16")) {
            try lb.compare(model: "m.gguf", test: &other)
        }
    }
}
