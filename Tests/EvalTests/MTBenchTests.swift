import Backends
import Foundation
import Testing
@testable import Weigh

/// MT-Bench scored through OpenAI endpoints against Tests/Fixtures/eval/fake_judge_server.py: the
/// answer and judge requests equal FastChat's (Tests/Fixtures/eval/mt_bench_requests.json, from
/// scripts/oracle/mt_bench_judge_prompts.py), ratings are parsed as FastChat parses them, a turn
/// without a rating is asked again and then reported unrated, and the score is the mean of the ratings.
@Suite struct MTBenchTests {
    struct Fixture: Decodable {
        struct Message: Decodable, Equatable { var role: String; var content: String }
        struct AnswerRequest: Decodable { var messages: [Message]; var temperature: Double }
        struct JudgeRequest: Decodable { var prompt: String; var temperature: Double; var maxTokens: Int; var messages: [Message] }
        struct Item: Decodable {
            var questionId: Int
            var category: String
            var turns: [String]
            var answerRequests: [AnswerRequest]
            var judgeRequests: [JudgeRequest]
        }
        var items: [Item]
    }

    /// A request the fake server received.
    struct Logged: Decodable {
        struct Body: Decodable {
            var model: String
            var messages: [Fixture.Message]
            var temperature: Double?
            var maxTokens: Int?
            var seed: Int64?
        }
        var path: String
        var body: Body
    }

    /// The fake endpoint: candidate answers and scripted judgments, every request logged.
    final class FakeJudge {
        let process = Process()
        let port: Int
        let log: String
        var url: String { "http://127.0.0.1:\(port)" }

        init(rules: [[String: Any]]) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("fake-judge-\(UUID().uuidString)").path
            let (portFile, script) = (base + ".port", base + ".rules.json")
            log = base + ".log.jsonl"
            try JSONSerialization.data(withJSONObject: rules).write(to: URL(fileURLWithPath: script))
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", repositoryRoot.appendingPathComponent("Tests/Fixtures/eval/fake_judge_server.py").path,
                                 portFile, log, script]
            try process.run()
            var port: Int?
            for _ in 0..<500 {
                if let s = try? String(contentsOfFile: portFile, encoding: .utf8), let p = Int(s) { port = p; break }
                usleep(20_000)
            }
            try? FileManager.default.removeItem(atPath: portFile)
            guard let port else { kill(process.processIdentifier, SIGKILL); throw CocoaError(.fileReadNoSuchFile) }
            self.port = port
        }

        func requests() throws -> [Logged] {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").map { try decoder.decode(Logged.self, from: Data($0.utf8)) }
        }

        deinit {
            // SIGKILL, then wait for Foundation's monitor thread to reap it (as BackendsTests' FakeServer).
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<500 where process.isRunning { usleep(10_000) }
        }
    }

    static func loadFixture() throws -> Fixture {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/eval/mt_bench_requests.json"))
        return try decoder.decode(Fixture.self, from: data)
    }

    /// The judge's replies per question (fixture order), turn 1 and turn 2, and the rating FastChat
    /// reads from them (nil: none within three tries).
    static let script: [(turn1: [String], rating1: Double?, turn2: [String], rating2: Double?)] = [
        (["Fine work. Rating: [[8]]"], 8, ["Rating: [[2]]"], 2),
        (["Only the backup form. Rating: [7]"], 7, ["[[10]]"], 10),
        (["First match wins: [[9.5]] and later [[2]]"], 9.5, ["[[1]]"], 1),
        (["I cannot decide.", "Rating: [[6]]"], 6, ["[[3]]"], 3),
        (["A single bracket [3] before the double one: [[4]]"], 4, ["[[5]]"], 5),
        (["[[5]]"], 5, ["No verdict.", "Still none.", "None again.", "Too late: [[9]]"], nil),
        (["[[10]]"], 10, ["[ 4 ] is not a rating", "[[4]]"], 4),
        (["[[1]]"], 1, ["[[7]]"], 7),
    ]

    @Test(.enabled(if: Needs.runs(dataFile("mt_bench_questions.jsonl") != nil), "needs .data/mt_bench_*.jsonl (make data)"))
    func judgePromptsTemperaturesRetriesAndMean() async throws {
        let fixture = try Self.loadFixture()
        #expect(fixture.items.count == Self.script.count)
        // The judge rules: turn 2's prompt holds both questions, so its rules come first.
        var rules: [[String: Any]] = []
        for (item, s) in zip(fixture.items, Self.script) { rules.append(["contains": item.turns[1], "replies": s.turn2]) }
        for (item, s) in zip(fixture.items, Self.script) { rules.append(["contains": item.turns[0], "replies": s.turn1]) }
        let server = try FakeJudge(rules: rules)

        // The fixture's questions only, with the FastChat judge prompts and reference answers.
        let data = temporaryDirectory()
        let ids = Set(fixture.items.map { String($0.questionId) })
        let questions = try String(contentsOfFile: try #require(dataFile("mt_bench_questions.jsonl")), encoding: .utf8)
            .split(separator: "\n").filter { line in
                let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return ids.contains("\(o?["question_id"] ?? "")")
            }
        try (questions.joined(separator: "\n") + "\n").write(toFile: data + "/mt_bench_questions.jsonl", atomically: true, encoding: .utf8)
        for name in ["mt_bench_judge_prompts.jsonl", "mt_bench_reference_gpt4.jsonl"] {
            try FileManager.default.copyItem(atPath: try #require(dataFile(name)), toPath: data + "/" + name)
        }

        let out = temporaryDirectory()
        func run() async throws -> (result: TaskResult, items: [ItemResult]) {
            var options = EvalOptions(settings: EvalSettings(tasks: ["mt-bench"]), outputDirectory: out, dataDirectory: data)
            options.progress = false
            options.judge = OpenAIBackend(endpoints: [server.url], model: "judge")
            let runner = try EvalRunner(backend: OpenAIBackend(endpoints: [server.url], model: "candidate"), options: options)
            let r = try await runner.runWithItems(try TaskCatalog.load("mt-bench"))
            await runner.cache.close()
            return r
        }
        let first = try await run()
        let logged = try server.requests()
        #expect(logged.allSatisfy { $0.path == "/v1/chat/completions" })

        // Requests in order, item by item: answer 1, answer 2, then each turn's judge requests.
        var next = 0
        for (item, s) in zip(fixture.items, Self.script) {
            for (turn, expected) in item.answerRequests.enumerated() {
                guard next < logged.count else { Issue.record("no answer request for \(item.questionId) turn \(turn + 1)"); return }
                let r = logged[next].body
                next += 1
                #expect(r.model == "candidate")
                #expect(r.messages == expected.messages, "question \(item.questionId) turn \(turn + 1) answer request")
                // FastChat's temperature_config, and a seed only when sampling.
                #expect(abs((r.temperature ?? -1) - expected.temperature) < 1e-6, "question \(item.questionId) (\(item.category)): temperature \(r.temperature ?? -1), FastChat \(expected.temperature)")
                #expect((r.seed != nil) == (expected.temperature > 0))
            }
            for (turn, expected) in item.judgeRequests.enumerated() {
                let tries = turn == 0 ? (s.rating1 == nil ? 3 : s.turn1.count) : (s.rating2 == nil ? 3 : s.turn2.count)
                for attempt in 0..<tries {
                    guard next < logged.count else { Issue.record("no judge request for \(item.questionId) turn \(turn + 1)"); return }
                    let r = logged[next].body
                    next += 1
                    #expect(r.model == "judge")
                    #expect(r.messages.count == 2 && r.messages[0] == expected.messages[0], "question \(item.questionId) turn \(turn + 1): system prompt of \(expected.prompt)")
                    if r.messages.count == 2 && r.messages[1] != expected.messages[1] {
                        let got = r.messages[1].content, want = expected.messages[1].content
                        let common = zip(got, want).prefix { $0 == $1 }.count
                        Issue.record("question \(item.questionId) turn \(turn + 1) attempt \(attempt + 1): judge prompt differs from FastChat's \(expected.prompt) at character \(common): …\(got.dropFirst(max(0, common - 40)).prefix(120))… vs …\(want.dropFirst(max(0, common - 40)).prefix(120))…")
                    }
                    #expect(r.temperature == 0 && r.maxTokens == expected.maxTokens)
                }
            }
        }
        #expect(next == logged.count, "\(logged.count - next) requests more than expected")

        // Ratings as FastChat reads them; the unrated turn has no score and is counted.
        let byID = Dictionary(uniqueKeysWithValues: first.items.map { ($0.id, $0) })
        var ratings: [Double] = []
        for (item, s) in zip(fixture.items, Self.script) {
            let r = try #require(byID[String(item.questionId)])
            #expect(r.metrics["score_turn1"] == s.rating1, "question \(item.questionId) turn 1")
            #expect(r.metrics["score_turn2"] == s.rating2, "question \(item.questionId) turn 2")
            #expect(r.outputs?.count == 2)
            ratings += [s.rating1, s.rating2].compactMap { $0 }
        }
        let metrics = Dictionary(uniqueKeysWithValues: first.result.metrics.map { ($0.name, $0) })
        #expect(metrics["score"]?.n == 15 && metrics["unrated_turns"]?.value == 1)
        #expect(abs((metrics["score"]?.value ?? 0) - ratings.reduce(0, +) / Double(ratings.count)) < 1e-12)
        let t2 = Self.script.compactMap(\.rating2)
        #expect(abs((metrics["score_turn2"]?.value ?? 0) - t2.reduce(0, +) / Double(t2.count)) < 1e-12 && metrics["score_turn2"]?.n == 7)

        // The cache keeps the rated items only (no -1 anywhere); a second run asks about the unrated one again.
        func cachedScores() throws -> [[String: Double]] {
            try String(contentsOfFile: out + "/cache.jsonl", encoding: .utf8).split(separator: "\n").map { line in
                let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return try #require((entry["result"] as? [String: Any])?["metrics"] as? [String: Double])
            }
        }
        let cached = try cachedScores()
        #expect(cached.count == 7 && cached.allSatisfy { $0.count == 2 && $0.values.allSatisfy { $0 >= 1 } })
        let second = try await run()
        #expect(second.result.cachedItems == 7)
        let again = try server.requests().dropFirst(logged.count)
        #expect(again.count == 4 && again.filter { $0.body.model == "judge" }.count == 2)
        let unrated = try #require(second.items.first { $0.id == String(fixture.items[5].questionId) })
        #expect(unrated.metrics["score_turn2"] == 9)
        let m2 = Dictionary(uniqueKeysWithValues: second.result.metrics.map { ($0.name, $0.value) })
        #expect(m2["unrated_turns"] == 0)
        #expect(try cachedScores().count == 8)
    }

    @Test func ratingsParsedAsFastChat() {
        #expect(MTBench.rating("Rating: [[7]]") == 7)
        #expect(MTBench.rating("[[8.5]]") == 8.5)
        #expect(MTBench.rating("[3] then [[4]]") == 4)
        #expect(MTBench.rating("backup [6]") == 6)
        #expect(MTBench.rating("none, [ 5 ], [[x]]") == nil)
    }
}
