import Backends
import Engine
import Foundation
import Testing
@testable import Weigh

/// The MMLU answers the local engine picks against llama.cpp's (Tests/Fixtures/eval/mmlu_*.json,
/// written by scripts/oracle/mmlu_loglik.py: a seeded 500-question sample, 0-shot). CI checks the
/// first 100 of them; `feather eval` over all 500 is in the report.
@Suite(.serialized) struct OracleAgreementTests {
    struct Fixture: Decodable {
        struct Item: Decodable { var id: String; var choice: Int; var logprobs: [Double] }
        var items: [Item]
    }

    static func agreement(_ model: String, items: Int) async throws -> (agree: Int, total: Int, maxDiff: Double) {
        let url = repositoryRoot.appendingPathComponent("Tests/Fixtures/eval/mmlu_\(model).json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let wanted = Array(fixture.items.prefix(items))
        let path = try #require(embeddedModel(model), "\(model): run scripts/fetch-models.sh")
        let engine = try Engine(path: path, threads: 2, contextLength: 4096)
        let backend = LocalBackend(engine: engine, modelPath: path)
        let task = try TaskCatalog.load("mmlu")
        var options = EvalOptions(settings: EvalSettings(tasks: ["mmlu"]), outputDirectory: temporaryDirectory(), dataDirectory: dataDirectory)
        options.progress = false
        let runner = try EvalRunner(backend: backend, options: options)
        let docs = try Dataset.load(task.definition.data.file, format: "jsonl", directory: dataDirectory)
        let prepared = try runner.prepare(task.definition, docs)
        let byId = Dictionary(uniqueKeysWithValues: prepared.map { ($0.id, $0) })
        var agree = 0, maxDiff = 0.0
        for item in wanted {
            let p = byId[item.id]!
            let context = try runner.context(for: p, in: prepared, pools: [:], def: task.definition, shots: 0)
            let r = try await backend.loglikelihoods(["A", "B", "C", "D"].map { LoglikelihoodRequest(context: context, continuation: " " + $0) })
            let lls = r.map(\.logprob)
            if EvalRunner.argmax(lls) == item.choice { agree += 1 }
            for (a, b) in zip(lls, item.logprobs) { maxDiff = max(maxDiff, abs(a - b)) }
        }
        return (agree, wanted.count, maxDiff)
    }

    /// Items of the 500-question fixture checked: 100 in CI; FEATHER_ORACLE_ITEMS=500 checks them all.
    static let items = Int(ProcessInfo.processInfo.environment["FEATHER_ORACLE_ITEMS"] ?? "") ?? 100

    @Test(.enabled(if: Needs.runs(embeddedModel("smollm2-135m") != nil && dataFile("mmlu_test.jsonl") != nil), "needs the embedded models (make models) and .data (make data)"))
    func smollm2ChoosesAsLlamaCpp() async throws {
        let r = try await Self.agreement("smollm2-135m", items: Self.items)
        print("oracle agreement smollm2-135m: \(r.agree)/\(r.total) MMLU items choose as llama.cpp, max |Δlogprob| \(r.maxDiff)")
        #expect(Double(r.agree) >= 0.99 * Double(r.total), "agreement \(r.agree)/\(r.total), max |Δlogprob| \(r.maxDiff)")
    }

    @Test(.enabled(if: Needs.runs(embeddedModel("gemma3-270m") != nil && dataFile("mmlu_test.jsonl") != nil), "needs the embedded models (make models) and .data (make data)"))
    func gemma3ChoosesAsLlamaCpp() async throws {
        let r = try await Self.agreement("gemma3-270m", items: Self.items)
        print("oracle agreement gemma3-270m: \(r.agree)/\(r.total) MMLU items choose as llama.cpp, max |Δlogprob| \(r.maxDiff)")
        #expect(Double(r.agree) >= 0.99 * Double(r.total), "agreement \(r.agree)/\(r.total), max |Δlogprob| \(r.maxDiff)")
    }
}
