import Foundation
import Testing
@testable import Weigh

/// llama-bench's JSON on a real output (Tests/Fixtures/bench/llama-bench-smollm2.json; command in the README there),
/// and ik_llama.cpp's (ik-llama-bench-smollm2.json). Serialized: a test that writes its fake llama-bench script
/// while another forks (every LlamaBench asks its binary for --help) can leave the script's write descriptor in
/// that child, and running the script then fails with ETXTBSY.
@Suite(.serialized)
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
        #expect(lb.flavor == .llamaCpp)
        let pg = try lb.arguments(model: "m.gguf", spec: BenchTestSpec(nPrompt: 512, nGen: 128, depth: 4096, threads: 2))
        #expect(pg.joined(separator: " ") == "-m m.gguf -t 2 -r 5 -d 4096 -ctk f16 -ctv f16 -o json -p 0 -n 0 -pg 512,128")
        let tg = try lb.arguments(model: "m.gguf", spec: BenchTestSpec(nPrompt: 0, nGen: 128, depth: 0, threads: 1))
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

    /// ik_llama.cpp's llama-bench: no n_depth field; its -gp test (tgN@ppD) reports the depth as n_prompt and
    /// its rate counts only the generated tokens.
    @Test func parsesRealIkOutput() throws {
        let data = try Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/bench/ik-llama-bench-smollm2.json"))
        let records = try LlamaBench.parse(data)
        #expect(records.count == 4)
        #expect(records.map { "\($0.nPrompt)/\($0.nGen)" } == ["64/0", "0/16", "32/8", "64/16"])
        for (i, r) in records.enumerated() {
            #expect(r.nDepth == nil && r.nThreads == 1 && r.modelFilename.hasSuffix("smollm2-135m.gguf") && r.typeK == "f16")
            #expect(r.samplesNanoseconds.count == 2 && r.samplesTokensPerSecond.count == 2)
            let tokens = i == 3 ? r.nGen : r.nPrompt + r.nGen  // the -gp test times only its generation
            let rates = r.samplesNanoseconds.map { Double(tokens) / (Double($0) / 1e9) }
            #expect(abs(Statistics.mean(rates) - r.avgTokensPerSecond) < 1e-3 * r.avgTokensPerSecond)
        }
        // ik counts the tied output matrix apart (llama.cpp's fixture: 96 576 768 bytes, 134 515 008 parameters).
        #expect(records.first?.modelSize == 126_657_792 && records.first?.modelParams == 162_826_560)
        #expect(records.last?.buildCommit == "ik-llama-cpp-python-0.1.5")
    }

    @Test func ikIsToldApartByItsHelp() throws {
        #expect(LlamaBench.Flavor.detect(help: "  -rtr, --run-time-repack <0|1>       (default: 0)") == .ikLlamaCpp)
        #expect(LlamaBench.Flavor.detect(help: "  -d, --n-depth <n>                   (default: 0)") == .llamaCpp)
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("fake-ik-help-\(UUID().uuidString).sh").path
        try "#!/bin/sh\necho '  -rtr, --run-time-repack <0|1>       (default: 0)'\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer { try? FileManager.default.removeItem(atPath: script) }
        #expect(try LlamaBench(executable: script, repetitions: 2).flavor == .ikLlamaCpp)
    }

    @Test func ikArgumentsTakeItsGenerationAtDepthTest() throws {
        let ik = try LlamaBench(executable: "/bin/sh", repetitions: 5, extraArguments: ["-rtr", "1", "-fa", "1"], flavor: .ikLlamaCpp)
        let d = try ik.arguments(model: "m.gguf", spec: BenchTestSpec(nPrompt: 0, nGen: 128, depth: 4096, threads: 2))
        #expect(d.joined(separator: " ") == "-m m.gguf -t 2 -r 5 -ctk f16 -ctv f16 -o json -p 0 -n 0 -gp 4096,128 -rtr 1 -fa 1")
        let pp = try ik.arguments(model: "m.gguf", spec: BenchTestSpec(nPrompt: 512, nGen: 0, depth: 0, threads: 1))
        #expect(pp.joined(separator: " ") == "-m m.gguf -t 1 -r 5 -ctk f16 -ctv f16 -o json -p 512 -n 0 -rtr 1 -fa 1")
        let ppAtDepth = BenchTestSpec(nPrompt: 512, nGen: 0, depth: 4096, threads: 1)
        #expect(!ik.supports(ppAtDepth) && ik.supports(BenchTestSpec(nPrompt: 0, nGen: 128, depth: 4096, threads: 1)))
        #expect(throws: BenchError.self) { try ik.arguments(model: "m.gguf", spec: ppAtDepth) }
        let llama = try LlamaBench(executable: "/bin/sh", repetitions: 5, flavor: .llamaCpp)
        #expect(llama.supports(ppAtDepth))
    }

    /// `compare` against ik's llama-bench (detected from --help): "tg16 @ d64" is its tg16@pp64 record.
    @Test func compareWithIkTakesItsDepthRecord() throws {
        let fixture = repoRoot.appendingPathComponent("Tests/Fixtures/bench/ik-llama-bench-smollm2.json").path
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("fake-ik-bench-\(UUID().uuidString).sh").path
        try """
            #!/bin/sh
            case "$*" in
              --help) echo '  -rtr, --run-time-repack <0|1>       (default: 0)' ;;
              *" -rtr 1 -fa 1") cat '\(fixture)' ;;
              *) echo "unexpected arguments: $*" >&2; exit 3 ;;
            esac
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let ik = try LlamaBench(executable: script, repetitions: 2, extraArguments: ["-rtr", "1", "-fa", "1"])
        #expect(ik.flavor == .ikLlamaCpp)
        var test = BenchTest(name: "tg16 @ d64", nPrompt: 0, nGen: 16, depth: 64, threads: 1, isa: "avx2", cacheType: "f16",
                             contextLength: 80, kvCacheBytes: 0, samplesSeconds: [1, 1], samplesTokensPerSecond: [16, 16],
                             meanTokensPerSecond: 16, sdTokensPerSecond: 0)
        try ik.compare(model: "m.gguf", test: &test)
        let l = try #require(test.llamaCpp)
        let records = try LlamaBench.parse(Data(contentsOf: URL(fileURLWithPath: fixture)))
        let expected = try #require(records.last)
        #expect(expected.nPrompt == 64 && expected.nGen == 16)
        #expect(l.meanTokensPerSecond == expected.avgTokensPerSecond && l.samplesTokensPerSecond == expected.samplesTokensPerSecond)
        #expect(abs(l.ratio - 16 / expected.avgTokensPerSecond) < 1e-12)
        #expect(l.implementation == "ik_llama.cpp" && l.extraArguments == ["-rtr", "1", "-fa", "1"])
        // tg16 at depth 0 is its tg16 record (n_prompt 0), not the -gp one.
        var plain = test
        plain.depth = 0
        try ik.compare(model: "m.gguf", test: &plain)
        #expect(plain.llamaCpp?.meanTokensPerSecond == records[1].avgTokensPerSecond)
        #expect(records[1].nPrompt == 0 && records[1].nGen == 16 && records[1].avgTokensPerSecond != expected.avgTokensPerSecond)
    }
}
