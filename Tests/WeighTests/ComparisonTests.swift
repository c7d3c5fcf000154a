import Backends
import Foundation
import Testing
@testable import Weigh

/// Comparison rows, pairwise tests and verdicts on constructed results with known answers.
@Suite struct ComparisonTests {
    static let hardware = [HardwareCatalog.find("rtx-4090")!, HardwareCatalog.find("mac-16gb")!]

    /// Two catalog models with measured parts attached: A answers items 0..<40 right and B items 10..<42,
    /// so only A is right on 10 items and only B on 2 (McNemar p = 0.0386, scipy binomtest(2, 12)).
    static func measuredPair(settingsB: String = "0-shot") -> [ModelResult] {
        let resolver = ModelResolver()
        var a = try! resolver.describe("qwen2.5-0.5b", quants: [.q4_k_m])
        var b = try! resolver.describe("smollm2-360m", quants: [.q4_k_m])
        a.fit = ModelResolver.fitRows(a, hardware: hardware, context: 4096, kv: .f16)
        b.fit = ModelResolver.fitRows(b, hardware: hardware, context: 4096, kv: .f16)
        let ids = (0..<50).map { "q\($0)" }
        func acc(_ right: Range<Int>, _ settings: String) -> TaskMeasurement {
            let items = ids.enumerated().map { i, id in ItemOutcome(id: id, correct: right.contains(i)) }
            let v = Double(right.count) / 50
            return TaskMeasurement(task: "mmlu", metric: "acc", value: v, stderr: (v * (1 - v) / 49).squareRoot(), n: 50,
                                   higherIsBetter: true, kind: .accuracy, items: items, settings: settings, source: "test")
        }
        // Bits per byte: B spends 10% more bits on every chunk, so B is worse (lower is better).
        func bpb(_ factor: Double) -> TaskMeasurement {
            let items = (0..<40).map { i in ItemOutcome(id: "c\(i)", value: factor * Double(900 + (i * 37) % 200), weight: 1000) }
            return TaskMeasurement(task: "wiki-bpb", metric: "bits_per_byte", value: factor * 0.99, stderr: 0.01, n: 40,
                                   higherIsBetter: false, kind: .ratio, items: items, settings: "0-shot", source: "test")
        }
        a.tasks = [acc(0..<40, "0-shot"), bpb(1.0)]
        b.tasks = [acc(10..<42, settingsB), bpb(1.1)]
        a.speed = SpeedMeasurement(hardware: "this-machine", threads: 2, promptTokens: 128, generatedTokens: 32,
                                   prefillSamples: [410, 400, 405], decodeSamples: [51, 50, 52], source: "test")
        b.speed = SpeedMeasurement(hardware: "this-machine", threads: 2, promptTokens: 128, generatedTokens: 32,
                                   prefillSamples: [300, 310, 305], decodeSamples: [50, 52, 51.5], source: "test")
        return [a, b]
    }

    static func build(_ models: [ModelResult]) -> Weigh.ComparisonResult {
        Comparison.build(models: models, hardware: hardware,
                         settings: CompareSettings(workload: "quick", tasks: ["mmlu", "wiki-bpb"], contextLength: 4096, kvType: .f16, quant: "Q4_K_M"),
                         command: ["feather", "compare", "test"], createdAt: Date(timeIntervalSince1970: 0))
    }

    static func row(_ r: Weigh.ComparisonResult, _ id: String) -> Row { r.sections.flatMap(\.rows).first { $0.id == id }! }

    @Test func accuracyRowsUseMcNemar() throws {
        let r = Self.build(Self.measuredPair())
        let o = try #require(Self.row(r, "task.mmlu").outcomes.first)
        #expect(o.method == "McNemar exact")
        #expect(o.winner == 0)
        #expect(abs(o.pValue! - 0.03857421875) < 1e-12)
        // b = 10, c = 2 of 50: (1.95996 + 0.84162) × √((12/50 − (8/50)²)/50) = 0.1835.
        #expect(abs(o.detectable! - 0.183454) < 1e-5)
        #expect(CompareText.outcome(Self.row(r, "task.mmlu"), modelCount: 2) == "A (p=0.039; detectable ≥ 18.3 points)")
    }

    /// Every quality row states its resolution; a verdict drawn from some rows names those that could not decide, and
    /// a row of four items (exact permutation: smallest p 2/16) says no difference can be significant.
    @Test func qualityRowsStateTheirResolution() throws {
        var models = Self.measuredPair()
        // MMLU: only A right on 6, only B right on 4 → not significant.
        models[1].tasks[0].items = models[1].tasks[0].items.enumerated().map { i, item in
            var x = item; x.correct = (i >= 6 && i < 40) || (i >= 40 && i < 44); return x
        }
        let r = Self.build(models)
        let mmlu = try #require(Self.row(r, "task.mmlu").outcomes.first)
        #expect(mmlu.winner == nil && mmlu.detectable! > 0.1)
        let quality = try #require(r.verdicts.first { $0.use == "quality" })
        #expect(quality.winner == 0)
        #expect(quality.text.contains("; not significant at this n: mmlu: p=0.754, detectable ≥ "), "\(quality.text)")
        let bpb = try #require(Self.row(r, "task.wiki-bpb").outcomes.first)
        #expect(bpb.detectable! > 0 && bpb.detectable! < 0.1 * 0.99)
        models[0].tasks[1].items = Array(models[0].tasks[1].items.prefix(4))
        models[1].tasks[1].items = Array(models[1].tasks[1].items.prefix(4))
        let few = try #require(Self.row(Self.build(models), "task.wiki-bpb").outcomes.first)
        #expect(few.method == "exact paired permutation" && few.detectable == .infinity)
        #expect(CompareText.outcome(Self.row(Self.build(models), "task.wiki-bpb"), modelCount: 2)
                == "no significant difference (p=0.125; no difference can reach significance with 4 items)")
    }

    @Test func bitsPerByteRowsUsePairedBootstrapLowerIsBetter() throws {
        let o = try #require(Self.row(Self.build(Self.measuredPair()), "task.wiki-bpb").outcomes.first)
        #expect(o.method == "paired bootstrap")
        #expect(o.winner == 0)
        #expect(o.pValue! < 0.01)
    }

    @Test func speedRowsUseWelch() throws {
        let r = Self.build(Self.measuredPair())
        let prefill = try #require(Self.row(r, "speed.prefill").outcomes.first)
        #expect(prefill.winner == 0 && prefill.method == "Welch t-test")
        // Decode rates overlap: 51 ± 1 vs 51.2 ± 1.04 is no significant difference.
        let decode = try #require(Self.row(r, "speed.decode").outcomes.first)
        #expect(decode.winner == nil && decode.pValue! > 0.5)
        #expect(CompareText.outcome(Self.row(r, "speed.decode"), modelCount: 2).hasPrefix("no significant difference (p="))
    }

    @Test func verdictsComeFromSignificantRows() {
        let r = Self.build(Self.measuredPair())
        let quality = r.verdicts.first { $0.use == "quality" }!
        #expect(quality.winner == 0)
        #expect(Set(quality.basis) == ["task.mmlu", "task.wiki-bpb"])
        let speed = r.verdicts.first { $0.use == "speed" }!
        #expect(speed.winner == 0 && speed.basis == ["speed.prefill"])
        let memory = r.verdicts.first { $0.use == "memory" }!
        #expect(memory.basis == ["memory.total"])
        let totals = Self.row(r, "memory.total").cells.map { $0.value! }
        #expect(memory.winner == (totals[0] < totals[1] ? 0 : 1))
    }

    @Test func mixedQualityHasNoWinner() {
        var models = Self.measuredPair()
        // B now wins bits per byte (A spends 20% more), A still wins MMLU.
        models[0].tasks[1].items = models[0].tasks[1].items.map { var i = $0; i.value = i.value! * 1.32; return i }
        let quality = Self.build(models).verdicts.first { $0.use == "quality" }!
        #expect(quality.winner == nil)
        #expect(quality.text.hasPrefix("mixed: A vs B: A on mmlu p=0.039, B on wiki-bpb p="))
    }

    /// Three catalog models: Qwen2.5 3B needs the least memory and has the highest decode bound at 32k on both machines,
    /// so it wins memory and speed against both others even though Gemma 3 4B beats Llama 3.2 3B.
    @Test func threeModelsHaveAWinnerOnlyWhenItBeatsBoth() async throws {
        let runner = CompareRunner(hardware: Self.hardware, quants: [.q4_k_m], context: 32768, kv: .f16,
                                   plan: .quick(tasks: nil, threads: 2), measurer: nil, unmeasuredReason: "unused")
        let r = try await runner.run(["gemma-3-4b", "llama-3.2-3b", "qwen2.5-3b"], command: ["test"]) { _ in }
        let totals = Self.row(r, "memory.total").cells.map { $0.value! }
        #expect(totals[2] < totals[0] && totals[0] < totals[1])
        let memory = r.verdicts.first { $0.use == "memory" }!
        #expect(memory.winner == 2)
        #expect(memory.text.hasPrefix("C (Qwen2.5 3B): over A on"))
        #expect(r.verdicts.first { $0.use == "speed" }!.winner == 2)
        #expect(Self.row(r, "memory.total").outcomes.count == 3)
    }

    @Test func differentSettingsAreNotPaired() throws {
        let o = try #require(Self.row(Self.build(Self.measuredPair(settingsB: "5-shot")), "task.mmlu").outcomes.first)
        #expect(o.winner == nil && o.pValue == nil)
        #expect(o.detail.hasPrefix("different settings"))
    }

    @Test func catalogOnlyComparisonSaysWhatNeedsWeights() async throws {
        let runner = CompareRunner(hardware: Self.hardware, quants: [.q4_k_m], context: 8192, kv: .f16,
                                   plan: .quick(tasks: nil, threads: 2), measurer: nil, unmeasuredReason: "unused")
        let r = try await runner.run(["mistral-small-3.1-24b", "gemma-3-27b"], command: ["test"]) { _ in }
        #expect(Self.row(r, "task.mmlu").cells.allSatisfy { $0.missing == Comparison.needsWeights })
        #expect(Self.row(r, "speed.decode").cells.allSatisfy { $0.missing == Comparison.needsWeights })
        #expect(r.verdicts.first { $0.use == "quality" }!.text == "no verdict: \(Comparison.needsWeights)")
        // Derived rows are filled at once: Mistral's Q4_K_M weights (14,326,026,240 B) are smaller than Gemma's (16,539,843,584 B).
        #expect(Self.row(r, "memory.weights").cells.map { $0.value } == [14_326_026_240, 16_539_843_584])
        #expect(Self.row(r, "memory.weights").outcomes.first?.winner == 0)
        #expect(Self.row(r, "fit.rtx-4090").cells.allSatisfy { $0.value! > 8192 })
        #expect(CompareText.missingSummary(r).first?.hasPrefix("A, B: needs weights or an endpoint") == true)
    }

    @Test func compareNeedsTwoKnownModels() async throws {
        let runner = CompareRunner(hardware: Self.hardware, quants: [.q4_k_m], context: 8192, kv: .f16,
                                   plan: .quick(tasks: nil, threads: 2), measurer: nil, unmeasuredReason: "unused")
        await #expect(throws: CompareError.tooFewModels) { try await runner.run(["gemma-3-27b"], command: []) { _ in } }
        #expect(throws: ModelSpecError.self) { try runner.describe(["gemma-3-27b", "no-such-model-xyz"]) }
        #expect(throws: ModelSpecError.badEndpoint("http://localhost:8080/v1")) { try ModelResolver().resolver.spec("http://localhost:8080/v1") }
        #expect(try ModelResolver().resolver.spec("http://localhost:8080/v1#gemma-3-27b") == .endpoint(url: "http://localhost:8080/v1", model: "gemma-3-27b"))
    }

    @Test func reportsRenderTheSameResult() throws {
        let r = Self.build(Self.measuredPair())
        let plain = TerminalReport.render(r, color: false)
        #expect(!plain.contains("\u{1B}["))
        #expect(plain.contains("A (p=0.039; detectable ≥ 18.3 points)"))
        #expect(TerminalReport.render(r, color: true).contains("\u{1B}[32m"))
        let md = MarkdownReport.render(r)
        #expect(md.contains("| mmlu (acc) | 80.0% ± 5.7 (n=50) | 64.0% ± 6.9 (n=50) | A (p=0.039; detectable ≥ 18.3 points) |"))
        let decoded = try JSONReport.decode(Data(JSONReport.render(r).utf8))
        #expect(decoded.schemaVersion == 1)
        #expect(decoded.models.map(\.label) == ["qwen2.5-0.5b", "smollm2-360m"])
        #expect(decoded.models[0].tasks[0].items.count == 50)
        #expect(decoded.sections.map { $0.rows.count } == r.sections.map { $0.rows.count })
        #expect(decoded.verdicts == r.verdicts)
        #expect(decoded.sections.flatMap(\.rows).flatMap(\.outcomes).map(\.detectable) == r.sections.flatMap(\.rows).flatMap(\.outcomes).map(\.detectable))
    }
}
