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
}
