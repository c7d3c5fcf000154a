import Foundation
import GGUF
import Models
import Testing
@testable import Weigh

/// The local benchmark on a small synthetic model: a well-formed result, whatever the timings.
struct LocalBenchTests {
    static func syntheticModel(_ arch: SyntheticModel.Architecture, window: Int? = nil) throws -> String {
        var m = SyntheticModel(arch)
        m.contextLength = 512
        m.slidingWindow = window
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(arch.rawValue)-\(UUID().uuidString).gguf").path
        try m.writer().write(to: path)
        return path
    }

    /// /proc/PID/status pads small values with spaces after the tab and large ones not at all
    /// (a 24B model's peak RSS read as nil before).
    @Test func statusFieldsOfEveryWidth() {
        let text = "Name:\tfeather\nVmPeak:\t15000000 kB\nVmHWM:\t14123456 kB\nVmRSS:\t    1936 kB\nThreads:\t3\n"
        #expect(ProcessMetrics.statusField("VmHWM", in: text) == 14_123_456 * 1024)
        #expect(ProcessMetrics.statusField("VmRSS", in: text) == 1936 * 1024)
        #expect(ProcessMetrics.statusField("VmSwap", in: text) == nil)
        #expect(ProcessMetrics.peakResidentBytes().map { $0 > 0 } == true)
    }

    @Test func specsFollowLlamaBenchOrderAndNames() {
        var o = LocalBenchOptions()
        o.prompts = [16, 0]
        o.gens = [8]
        o.promptGen = [(4, 2)]
        o.depths = [0, 32]
        o.threads = [1, 2]
        #expect(o.specs.map { "\($0.threads):\($0.name)" } == [
            "1:pp16", "1:tg8", "1:pp4+tg2", "1:pp16 @ d32", "1:tg8 @ d32", "1:pp4+tg2 @ d32",
            "2:pp16", "2:tg8", "2:pp4+tg2", "2:pp16 @ d32", "2:tg8 @ d32", "2:pp4+tg2 @ d32",
        ])
    }

    @Test(arguments: [SyntheticModel.Architecture.llama, .gemma3])
    func benchOnSyntheticModelGivesAWellFormedResult(arch: SyntheticModel.Architecture) throws {
        let path = try Self.syntheticModel(arch, window: arch == .gemma3 ? 16 : nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var o = LocalBenchOptions()
        o.prompts = [24]
        o.gens = [6]
        o.promptGen = [(8, 4)]
        o.depths = [0, 40]
        o.threads = [1, 2]
        o.repetitions = 3
        var lines: [String] = []
        let bench = LocalBench(options: o, interruption: Interruption()) { lines.append($0) }
        var afterTest = 0
        let m = try bench.run(path: path) { _ in afterTest += 1 }
        #expect(m.tests.count == 12 && afterTest == 12)
        #expect(m.model.fileSize == (try Data(contentsOf: URL(fileURLWithPath: path))).count)
        #expect(m.model.architecture == arch.rawValue && m.model.parameterCount > 0)
        let file = try GGUFFile(path: path)
        let config = try ModelConfig(gguf: file)
        for t in m.tests {
            #expect(t.samplesSeconds.count == 3 && t.samplesTokensPerSecond.count == 3)
            #expect(t.contextLength == t.nPrompt + t.nGen + t.depth)
            for (s, r) in zip(t.samplesSeconds, t.samplesTokensPerSecond) {
                #expect(s > 0 && abs(r - Double(t.nPrompt + t.nGen) / s) <= 1e-9 * r)
            }
            #expect(abs(t.meanTokensPerSecond - Statistics.mean(t.samplesTokensPerSecond)) <= 1e-9 * t.meanTokensPerSecond)
            #expect(t.sdTokensPerSecond == Statistics.sampleStandardDeviation(t.samplesTokensPerSecond))
            // F16 cache: every layer holds the context, sliding layers at most window + one chunk.
            let perLayer = config.kvBytesPerTokenPerLayer(bytesPerElement: 2)
            let expected = config.slidingLayers.reduce(0) { $0 + perLayer * ($1 ? min(t.contextLength, 16 + 64) : t.contextLength) }
            #expect(t.kvCacheBytes == expected)
        }
        #expect(m.tests.filter { $0.depth == 40 }.count == 6)
        let load = try #require(m.load)
        #expect(load.warm.loadSeconds > 0 && load.warm.firstForwardSeconds > 0)
        #expect(lines.contains { $0.contains("test 12/12") })
        if let peak = m.peakResidentBytes { #expect(peak > 0) }

        var result = BenchResult(kind: .local, host: ProcessMetrics.host(), command: ["feather", "bench"])
        result.models = [m]
        let json = try BenchReport.render(result, format: .json)
        let decoded = try JSONDecoder().decode(BenchResult.self, from: Data(json.utf8))
        #expect(decoded.schemaVersion == 1 && decoded.kind == .local && decoded.models?.first?.tests.count == 12)
        let md = try BenchReport.render(result, format: .md)
        #expect(md.contains("| tg6 @ d40") && md.contains("pp8+tg4") && md.contains(" ± "))
        let csv = try BenchReport.render(result, format: .csv)
        #expect(csv.split(separator: "\n").count == 13)
        let jsonl = try BenchReport.render(result, format: .jsonl)
        #expect(jsonl.split(separator: "\n").count == 12)
    }

    @Test func interruptionKeepsWhatWasMeasured() throws {
        let path = try Self.syntheticModel(.llama)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var o = LocalBenchOptions()
        o.prompts = [8]
        o.gens = [4]
        o.threads = [1]
        o.repetitions = 2
        o.measureLoad = false
        let stop = Interruption()
        let bench = LocalBench(options: o, interruption: stop) { _ in }
        let m = try bench.run(path: path) { _ in stop.request() }
        #expect(m.tests.map(\.name) == ["pp8"])
    }

    @Test func badListsAreErrors() {
        #expect(throws: BenchError.self) { try parseIntList("512,x", option: "-p") }
        #expect(throws: BenchError.self) { try parseIntList("0", option: "-t", allowZero: false) }
        #expect(throws: BenchError.self) { try parseIntList("", option: "-n") }
        #expect((try? parseIntList("1,2", option: "-t")) == [1, 2])
    }
}
