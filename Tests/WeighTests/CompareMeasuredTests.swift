import Foundation
import Testing
@testable import Weigh

/// `feather compare` with its measurer on the two embedded models: speed from the benchmark, MMLU and
/// bits per byte from the eval runner, paired item by item. Small sizes: this checks the wiring, not the numbers.
@Suite(.serialized) struct CompareMeasuredTests {
    static let gemma = "\(modelsDirectory)/gemma3-270m.gguf"
    static let smol = "\(modelsDirectory)/smollm2-135m.gguf"
    static let dataDirectory = ProcessInfo.processInfo.environment["FEATHER_DATA"] ?? repoRoot.appendingPathComponent(".data").path
    static let ready = FileManager.default.fileExists(atPath: gemma) && FileManager.default.fileExists(atPath: smol)
        && FileManager.default.fileExists(atPath: dataDirectory + "/mmlu_test.jsonl")
        && FileManager.default.fileExists(atPath: dataDirectory + "/wiki.utf8")

    static func row(_ r: Weigh.ComparisonResult, _ id: String) -> Row { r.sections.flatMap(\.rows).first { $0.id == id }! }

    @Test(.enabled(if: ready || ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1", "needs the embedded models (make models) and .data (make data)"))
    func measuredRowsArePairedItemByItem() async throws {
        try #require(Self.ready, "needs both embedded models (make models) and .data/mmlu_test.jsonl, .data/wiki.utf8 (make data)")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("compare-measured-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let plan = MeasurementPlan(workload: "test", tasks: ["mmlu", "wiki-bpb"], itemLimit: ["mmlu": 12, "wiki-bpb": 3], seed: 7,
                                   promptTokens: 16, generatedTokens: 4, repetitions: 2, threads: 2)
        let measurer = EngineMeasurer(outputDirectory: out, dataDirectory: Self.dataDirectory, contextLength: 2304)
        let runner = CompareRunner(hardware: [], quants: [.q4_k_m], context: 4096, kv: .f16, plan: plan, measurer: measurer,
                                   unmeasuredReason: "unused")
        let r = try await runner.run([Self.gemma, Self.smol], command: ["test"]) { _ in }
        for m in r.models {
            #expect(m.errors.isEmpty, "\(m.errors)")
            let speed = try #require(m.speed)
            #expect(speed.prefillSamples.count == 2 && speed.decodeSamples.count == 2)
            #expect(speed.prefillSamples.allSatisfy { $0 > 0 } && speed.decodeSamples.allSatisfy { $0 > 0 })

            let mmlu = try #require(m.tasks.first { $0.task == "mmlu" })
            #expect(mmlu.kind == .accuracy && mmlu.metric == "acc" && mmlu.n == 12 && mmlu.items.count == 12)
            // The value is the share of items the model got right.
            #expect(abs(mmlu.value - Double(mmlu.items.filter { $0.correct == true }.count) / 12) < 1e-12)
            #expect(mmlu.stderr != nil)

            let wiki = try #require(m.tasks.first { $0.task == "wiki-bpb" })
            #expect(wiki.kind == .ratio && wiki.metric == "bits_per_byte" && !wiki.higherIsBetter && wiki.items.count == 3)
            // Bits per byte is Σ bits / Σ bytes over the documents the items carry.
            let bits = wiki.items.map { $0.value! }.reduce(0, +), bytes = wiki.items.map { $0.weight! }.reduce(0, +)
            #expect(abs(wiki.value - bits / bytes) < 1e-9 * wiki.value)
            #expect(wiki.value > 0.3 && wiki.value < 3)
        }
        // The same seeded sample for both models, so the rows pair up item by item.
        #expect(r.models[0].tasks[0].items.map(\.id) == r.models[1].tasks[0].items.map(\.id))
        #expect(r.models[0].tasks[1].items.map(\.id) == r.models[1].tasks[1].items.map(\.id))
        let mmluRow = Self.row(r, "task.mmlu")
        #expect(mmluRow.cells.allSatisfy { $0.value != nil })
        #expect(mmluRow.outcomes.first?.method == "McNemar exact")
        // Three articles: too few for a bootstrap, the exact permutation test.
        #expect(Self.row(r, "task.wiki-bpb").outcomes.first?.method == "exact paired permutation")
        // Whose smallest p is 2/8: the row says no difference could be significant, and MMLU states its resolution.
        #expect(Self.row(r, "task.wiki-bpb").outcomes.first?.resolution == "no difference can reach significance with 3 items")
        #expect(mmluRow.outcomes.first?.detectable.map { $0 >= 0.5 } == true, "12 items: at least 6/12 discordant one way")
        #expect(Self.row(r, "speed.decode").cells.allSatisfy { $0.value != nil })
        // Per-model eval output is kept (results, samples, resume cache).
        let dirs = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(dirs.count == 2)
    }
}
