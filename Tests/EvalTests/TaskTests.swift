import Backends
import Foundation
import Testing
@testable import Weigh

/// Task definitions, prompts, extraction and the runner on small synthetic data sets.
@Suite struct TaskTests {
    @Test func everyBuiltInTaskLoads() throws {
        let names = TaskCatalog.builtIn
        for expected in ["mmlu", "gsm8k", "gpqa-diamond", "gpqa-diamond-cot", "aime2025", "wiki-bpb", "mt-bench", "humaneval"] {
            #expect(names.contains(expected))
        }
        for n in names {
            let t = try TaskCatalog.load(n)
            #expect(t.definition.name == n)
            #expect(t.hash.count == 64)
        }
        #expect(throws: EvalError.self) { try TaskCatalog.load("no-such-task") }
    }

    @Test func gsm8kExtractionAsLmEval() throws {
        let def = try TaskCatalog.load("gsm8k").definition
        let strict = def.extractors![0], flexible = def.extractors![1]
        let output = " Janet has 16 - 3 - 4 = 9 eggs. She makes 9 * 2 = $18.\n#### 18"
        #expect(EvalRunner.extract(output, strict) == "18")
        #expect(EvalRunner.extract("She earns $1,234.", flexible) == "$1,234.")
        #expect(EvalRunner.normalize("$1,234.", def.normalize) == "1234")
        #expect(EvalRunner.extract("no number here", strict) == "[invalid]")
        // The gold: the worked solution's "#### N" with commas removed.
        #expect(EvalRunner.normalize("so 100,000 + 14,200 = 114,200\n#### 114,200", def.normalize) == "114200")
    }

    @Test func aimeAndGpqaExtraction() throws {
        let aime = try TaskCatalog.load("aime2025").definition
        #expect(EvalRunner.extract("thus \\boxed{70} and \\boxed{ 071 }", aime.extractors![0]) == "071")
        #expect(EvalRunner.normalize("071", aime.normalize) == EvalRunner.normalize("71", aime.normalize))
        let cot = try TaskCatalog.load("gpqa-diamond-cot").definition
        #expect(EvalRunner.extract("Answer: B\nwait.\nanswer: (c)", cot.extractors![0]) == "c")
        #expect(EvalRunner.normalize("c", cot.normalize) == EvalRunner.normalize("C", cot.normalize))
    }

    @Test func csvWithQuotedFields() throws {
        let docs = try Dataset.csv("a,b\n\"x, \"\"y\"\"\",\"multi\nline\"\nplain,2\n", path: "t.csv")
        #expect(docs.count == 2)
        #expect(docs[0].fields["a"] == "x, \"y\"")
        #expect(docs[0].fields["b"] == "multi\nline")
        #expect(docs[1].fields["b"] == "2")
    }

    @Test func wikiExtractorDropsTheTags() {
        let docs = Dataset.wikiExtractor("<doc id=\"7\" url=\"u\" title=\"T\">\nT\n\nBody.\n</doc>\n<doc id=\"8\" title=\"U\">\nU\n</doc>\n")
        #expect(docs.map { $0.fields["text"]! } == ["T\n\nBody.", "U"])
        #expect(docs[0].fields["doc_id"] == "7")
    }

    /// A small MMLU-shaped file: two subjects, five questions each.
    static func syntheticMMLU() throws -> String {
        let dir = temporaryDirectory()
        var lines: [String] = []
        for s in ["astronomy", "virology"] {
            for i in 0..<5 {
                let row: [String: String] = ["question": " \(s) question \(i)? ", "answer_a": "a\(i)", "answer_b": "bb\(i)",
                                             "answer_c": "ccc\(i)", "answer_d": "dddd\(i)", "correct_answer": ["A", "B", "C", "D"][i % 4], "topic": s]
                lines.append(String(data: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), encoding: .utf8)!)
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/mmlu_test.jsonl", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func mmluPromptFewShotAndMetrics() async throws {
        let data = try Self.syntheticMMLU()
        let out = temporaryDirectory()
        let backend = RecordingBackend()
        var options = EvalOptions(settings: EvalSettings(tasks: ["mmlu"], shots: 2), outputDirectory: out, dataDirectory: data)
        options.progress = false
        let runner = try EvalRunner(backend: backend, options: options)
        let report = try await runner.run([try TaskCatalog.load("mmlu")])
        let contexts = await backend.contexts
        #expect(contexts.count == 40)
        let first = contexts[0]
        // lm-eval's MMLU layout: description, examples with " X" answers, then the question and "Answer:".
        #expect(first.hasPrefix("The following are multiple choice questions (with answers) about astronomy.\n\n"))
        #expect(first.hasSuffix("\n\nastronomy question 0?\nA. a0\nB. bb0\nC. ccc0\nD. dddd0\nAnswer:"))
        for i in 0..<10 {
            let ctx = contexts[i * 4]
            let own = "question \(i % 5)?"
            let subject = i < 5 ? "astronomy" : "virology", other = i < 5 ? "virology" : "astronomy"
            // Two examples, both from the item's subject, never the item itself.
            #expect(ctx.components(separatedBy: "Answer: ").count == 3)
            #expect(ctx.components(separatedBy: own).count == 2)
            #expect(!ctx.contains("\(other) question"))
            #expect(ctx.components(separatedBy: "\(subject) question").count == 4)
        }
        // The shortest continuation wins with this backend: always " A".
        let t = report.tasks[0]
        #expect(t.n == 10)
        let acc = t.metrics.first { $0.name == "acc" }!
        #expect(acc.value == 0.4)  // targets A, B, C, D, A per subject: 4 of 10 are A
        #expect(abs(acc.stderr! - EvalStatistics.meanStderr([1, 0, 0, 0, 1, 1, 0, 0, 0, 1])) < 1e-12)
        #expect(t.groups?.map(\.name) == ["astronomy", "virology"])
        // results.json and samples are written and decode.
        let results = try JSONDecoder().decode(EvalReport.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/results.json")))
        #expect(results.schemaVersion == EvalReport.currentSchemaVersion)
        #expect(results.tasks[0].definitionHash == (try TaskCatalog.load("mmlu")).hash)
        let samples = try String(contentsOfFile: out + "/samples_mmlu.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(samples.count == 10)
        let item = try JSONDecoder().decode(ItemResult.self, from: Data(samples[1].utf8))
        #expect(item.id == "mmlu_test:1" && item.target == "1" && item.extracted["pred"] == "0" && item.correct == false)
    }

    @Test func limitAndSeededSample() {
        #expect(EvalRunner.select(count: 100, limit: 5, sample: nil, seed: 1, task: "t") == [0, 1, 2, 3, 4])
        let s = EvalRunner.select(count: 100, limit: nil, sample: 10, seed: 1, task: "t")
        #expect(s.count == 10 && s == s.sorted() && Set(s).count == 10)
        #expect(s == EvalRunner.select(count: 100, limit: nil, sample: 10, seed: 1, task: "t"))
        #expect(s != EvalRunner.select(count: 100, limit: nil, sample: 10, seed: 2, task: "t"))
        // lm-eval's --limit is per subtask: the first N rows of each, in file order.
        let subjects = ["a", "b", "a", "c", "b", "a", "b", "c", "a"]
        #expect(EvalRunner.select(count: 9, limit: 2, sample: nil, seed: 1, task: "t", subtasks: subjects) == [0, 1, 2, 3, 4, 7])
    }

    @Test func rerunReadsTheCache() async throws {
        let data = try Self.syntheticMMLU()
        let out = temporaryDirectory()
        var options = EvalOptions(settings: EvalSettings(tasks: ["mmlu"]), outputDirectory: out, dataDirectory: data)
        options.progress = false
        let first = RecordingBackend()
        let r1 = try await EvalRunner(backend: first, options: options).run([try TaskCatalog.load("mmlu")])
        let second = RecordingBackend()
        let r2 = try await EvalRunner(backend: second, options: options).run([try TaskCatalog.load("mmlu")])
        #expect(await second.contexts.isEmpty)
        #expect(r2.tasks[0].cachedItems == 10)
        #expect(r1.tasks[0].metrics == r2.tasks[0].metrics)
        // A torn last line (killed mid-write) is dropped, the rest kept.
        let cache = out + "/cache.jsonl"
        let handle = FileHandle(forWritingAtPath: cache)!
        handle.seekToEndOfFile()
        handle.write(Data("{\"key\":\"abc\",\"ta".utf8))
        handle.closeFile()
        let third = RecordingBackend()
        let r3 = try await EvalRunner(backend: third, options: options).run([try TaskCatalog.load("mmlu")])
        #expect(r3.tasks[0].cachedItems == 10)
        let lines = try String(contentsOfFile: cache, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 11 && lines.last == "")
    }

    @Test func judgedAndCodeTasksRefuseWithoutPermission() async throws {
        var options = EvalOptions(settings: EvalSettings(tasks: []), outputDirectory: temporaryDirectory())
        options.progress = false
        let runner = try EvalRunner(backend: RecordingBackend(), options: options)
        #expect(throws: EvalError.self) { try runner.validate([try TaskCatalog.load("mt-bench")]) }
        #expect(throws: EvalError.self) { try runner.validate([try TaskCatalog.load("humaneval")]) }
    }

    @Test func gsm8kGenerationScoresBothFilters() async throws {
        let dir = temporaryDirectory()
        let rows = [["question": "How many?", "answer": "6 * 7 = 42\n#### 42"], ["question": "How much?", "answer": "so\n#### 1,042"]]
        try rows.map { String(data: try JSONSerialization.data(withJSONObject: $0), encoding: .utf8)! }.joined(separator: "\n")
            .write(toFile: dir + "/gsm8k_test.jsonl", atomically: true, encoding: .utf8)
        var options = EvalOptions(settings: EvalSettings(tasks: ["gsm8k"], shots: 1, chat: true), outputDirectory: temporaryDirectory(), dataDirectory: dir)
        options.progress = false
        let backend = RecordingBackend(answer: " It is 42.\n#### 42")
        let report = try await EvalRunner(backend: backend, options: options).run([try TaskCatalog.load("gsm8k")])
        let m = Dictionary(uniqueKeysWithValues: report.tasks[0].metrics.map { ($0.name, $0.value) })
        #expect(m["exact_match,strict-match"] == 0.5 && m["exact_match,flexible-extract"] == 0.5)
        // --chat sends the k-shot examples as user/assistant turns (lm-eval's fewshot_as_multiturn).
        guard case .chat(let messages) = await backend.prompts[0] else { Issue.record("not chat"); return }
        #expect(messages.map(\.role) == ["user", "assistant", "user"])
        #expect(messages.map(\.content) == ["Question: How much?\nAnswer:", "so\n#### 1,042", "Question: How many?\nAnswer:"])
    }
}
