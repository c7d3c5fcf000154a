import Foundation
import Testing
@testable import Weigh

/// `feather compare`'s "KL divergence from A" row: measured when B is another quantization of A (here the
/// same SmolLM2 file under another name: the divergence is only the base's 16-bit rounding), refused for
/// another architecture and vocabulary (Gemma 3 against SmolLM2).
@Suite(.serialized) struct KLDivergenceMeasurementTests {
    static let gemma = "\(modelsDirectory)/gemma3-270m.gguf"
    static let smol = "\(modelsDirectory)/smollm2-135m.gguf"
    static let dataDirectory = ProcessInfo.processInfo.environment["FEATHER_DATA"] ?? repoRoot.appendingPathComponent(".data").path
    static let ready = FileManager.default.fileExists(atPath: gemma) && FileManager.default.fileExists(atPath: smol)
        && FileManager.default.fileExists(atPath: dataDirectory + "/wiki.utf8")

    @Test(.enabled(if: ready || ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1", "needs the embedded models (make models) and .data (make data)"))
    func anotherQuantizationOfAGetsTheRow() async throws {
        try #require(Self.ready, "needs both embedded models (make models) and .data/wiki.utf8 (make data)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compare-kld-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let copy = dir + "/smollm2-135m-copy.gguf"
        try FileManager.default.createSymbolicLink(atPath: copy, withDestinationPath: Self.smol)
        let plan = MeasurementPlan(workload: "test", tasks: [], itemLimit: [:], seed: 7, promptTokens: 8, generatedTokens: 2,
                                   repetitions: 1, threads: 2)
        let runner = CompareRunner(hardware: [], quants: [.q4_k_m], context: 4096, kv: .f16, plan: plan,
                                   measurer: EngineMeasurer(outputDirectory: dir, dataDirectory: Self.dataDirectory), unmeasuredReason: "unused")
        let r = try await runner.run([Self.smol, copy, Self.gemma], command: ["test"]) { _ in }
        let k = try #require(r.models[1].klDivergence)
        #expect(k.positions == 4 * 255 && k.reference == Self.smol)
        #expect(abs(k.meanKLD.value) < 1e-4 && k.sameTop.value == 1)
        #expect(r.models[2].klDivergence == nil)
        #expect(r.models[2].notMeasured.contains { $0.hasPrefix("KL divergence from A: another architecture") })
        let row = try #require(r.sections.flatMap(\.rows).first { $0.id == "quality.kld" })
        #expect(row.cells[0].text == "reference")
        #expect(row.cells[1].text.contains("same top token 100.0%, n=1020"))
        #expect(row.cells[2].missing?.contains("another architecture") == true)
        #expect(row.label == "KL divergence from A (wiki.utf8, 4 chunks of 512 tokens)")
    }

    @Test func rowOnlyWhenMeasured() {
        let a = ModelResult(label: "a", source: .catalog(id: "x"), facts: nil), b = ModelResult(label: "b", source: .catalog(id: "y"), facts: nil)
        #expect(Comparison.klDivergenceRows([a, b]).isEmpty)
        #expect(KLDivergenceMeasurement.incompatibility(a, b) == "needs both models as GGUF files")
    }
}
