import Backends
import Engine
import Foundation
import Testing
@testable import Weigh

/// `feather eval` against lm-evaluation-harness itself: Tests/Fixtures/lmeval/smollm2-135m/ holds
/// what lm-eval 0.4.13 asked and got when it ran our task YAMLs (scripts/oracle/lmeval/) against
/// `feather serve` (scripts/oracle/lmeval_fixtures.py): a seeded subset of 2 questions per MMLU
/// subject (0-shot; 1 per subject 2-shot) and 50 GSM8K problems (5-shot; the chat variant on 20 of them).
/// Checked: the same prompts byte for byte (and chat messages), per-item log-likelihoods within
/// 1e-4 from the local engine and through an endpoint (a known engine issue lets 2% of the items
/// be off by up to 0.1, see `checkLoglikelihoods`), the same generations, extracted answers and
/// metrics, and `--output-format lm-eval` in lm-eval's schema with lm-eval's numbers.
@Suite(.serialized) struct LMEvalConformanceTests {
    static let model = "smollm2-135m"
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/lmeval/\(model)")

    struct MMLUFixture: Decodable {
        struct Item: Decodable {
            var task: String, docId: Int, id: String, prompt: String, continuations: [String]
            var loglikelihoods: [Double], isGreedy: [Bool], target: Int, acc: Double
        }
        var shots: Int
        var items: [Item]
    }

    struct GSM8KFixture: Decodable {
        struct Message: Decodable, Equatable { var role: String, content: String }
        struct Item: Decodable {
            var docId: Int, id: String, prompt: String?, messages: [Message]?, generated: String, target: String
            var extracted: [String: String], exactMatch: [String: Double]
        }
        var shots: Int, maxGenToks: Int
        var items: [Item]
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name))) as! [String: Any]
    }

    /// A task's rows prepared as `feather eval` prepares them, with its few-shot pools.
    struct Prepared {
        var runner: EvalRunner
        var def: TaskDefinition
        var items: [PreparedItem]
        var pools: [String: [Int]]
        var byID: [String: PreparedItem]

        init(_ task: String, backend: any Backend = RecordingBackend()) throws {
            var options = EvalOptions(settings: EvalSettings(tasks: [task]), outputDirectory: temporaryDirectory(), dataDirectory: dataDirectory)
            options.progress = false
            runner = try EvalRunner(backend: backend, options: options)
            def = try TaskCatalog.load(task).definition
            items = try runner.prepare(def, try Dataset.load(def.data.file, format: def.data.format, directory: dataDirectory))
            pools = [:]
            for (i, p) in items.enumerated() { pools[p.group ?? "", default: []].append(i) }
            byID = Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0) })
        }

        func context(_ id: String, shots: Int) throws -> String {
            try runner.context(for: byID[id]!, in: items, pools: pools, def: def, shots: shots)
        }

        func messages(_ id: String, shots: Int) throws -> [GSM8KFixture.Message] {
            try runner.messages(for: byID[id]!, in: items, pools: pools, def: def, shots: shots).map { .init(role: $0.role, content: $0.content) }
        }
    }

    static let dataReady = dataFile("mmlu_test.jsonl") != nil && dataFile("gsm8k_test.jsonl") != nil
    static let modelReady = dataReady && embeddedModel(model) != nil

    // MARK: prompts, answers and metrics (no model needed)

    @Test(.enabled(if: Needs.runs(dataReady), "needs .data (make data)"), arguments: ["mmlu.json", "mmlu_fewshot.json"])
    func mmluPromptsAreLMEvals(_ file: String) throws {
        let fixture = try Self.load(MMLUFixture.self, file)
        // 2 questions per subject 0-shot, the first of them 2-shot.
        #expect(fixture.items.count == (fixture.shots == 0 ? 114 : 57))
        let p = try Prepared("mmlu")
        let (_, subtasks) = LMEvalOutput.subtasks(p.def, prepared: p.items, results: fixture.items.map {
            ItemResult(id: $0.id, prompt: "", target: "", metrics: [:])
        })
        let docIDs = Dictionary(uniqueKeysWithValues: subtasks.flatMap { s in s.items.map { ($0.item.id, (s.name, $0.docID)) } })
        for item in fixture.items {
            #expect(try p.context(item.id, shots: fixture.shots) == item.prompt, "\(item.id) (\(item.task) doc \(item.docId))")
            #expect(p.def.choices!.map { p.def.targetDelimiter! + $0 } == item.continuations)
            #expect(["A", "B", "C", "D"].firstIndex(of: p.byID[item.id]!.fields["correct_answer"]!) == item.target)
            // lm-eval's task and doc_id: the subject's subtask, the row's index within its subject.
            let (subtask, docID) = try #require(docIDs[item.id])
            #expect(subtask == "mmlu_" + item.task.dropFirst("mmlu_fw_".count) && docID == item.docId, "\(item.id)")
        }
    }

    @Test(.enabled(if: Needs.runs(dataReady), "needs .data (make data)"))
    func gsm8kPromptsAndChatMessagesAreLMEvals() throws {
        let p = try Prepared("gsm8k")
        let text = try Self.load(GSM8KFixture.self, "gsm8k.json")
        #expect(text.items.count == 50 && text.shots == p.def.fewshot!.defaultShots)
        for item in text.items {
            #expect(try p.context(item.id, shots: text.shots) == item.prompt!, "\(item.id)")
            #expect(p.byID[item.id]!.fields["answer"] == item.target)
        }
        let chat = try Self.load(GSM8KFixture.self, "gsm8k_chat.json")
        #expect(chat.items.count == 20)
        for item in chat.items {
            #expect(try p.messages(item.id, shots: chat.shots) == item.messages!, "\(item.id)")
        }
    }

    @Test(.enabled(if: Needs.runs(dataReady), "needs .data (make data)"), arguments: ["gsm8k.json", "gsm8k_chat.json"])
    func gsm8kExtractionAndExactMatchAreLMEvals(_ file: String) throws {
        let def = try TaskCatalog.load("gsm8k").definition
        let fixture = try Self.load(GSM8KFixture.self, file)
        let gold = { (target: String) in EvalRunner.normalize(target, def.normalize) }
        for item in fixture.items {
            for e in def.extractors! {
                let extracted = EvalRunner.extract(item.generated, e)
                #expect(extracted == item.extracted[e.name], "\(item.id) \(e.name): \(item.generated.debugDescription)")
                let hit: Double = EvalRunner.normalize(extracted, def.normalize) == gold(item.target) ? 1 : 0
                #expect(hit == item.exactMatch[e.name], "\(item.id) \(e.name)")
            }
        }
    }

    // MARK: log-likelihoods and generations from the local engine and through an endpoint

    /// Per-item log-likelihoods within 1e-4 of lm-eval's. Known engine issue: the engine's logits
    /// at a position depend a little on how the prompt was split into prefill chunks (a one-row
    /// chunk, as after `feather serve` reuses a cached prefix, differs from a many-row one by up to
    /// 0.09 nats on SmolLM2 Q4_1), so lm-eval's numbers (taken through the server, in its request
    /// order) differ by more than 1e-4 on a few items: at most 2% of the items may, each within
    /// 0.1 and recorded as a known issue; every other item must agree within 1e-4 and choose alike.
    static func checkLoglikelihoods(_ backend: any Backend, _ file: String, items: Int) async throws {
        let fixture = try load(MMLUFixture.self, file)
        let p = try Prepared("mmlu")
        var maxDiff = 0.0, chunked: [String] = []
        let wanted = Array(fixture.items.prefix(items))
        for item in wanted {
            let context = try p.context(item.id, shots: fixture.shots)
            let r = try await backend.loglikelihoods(item.continuations.map { LoglikelihoodRequest(context: context, continuation: $0) })
            let lls = r.map(\.logprob)
            let diff = zip(lls, item.loglikelihoods).map { abs($0 - $1) }.max() ?? .infinity
            if diff > 1e-4 && diff <= 0.1 {
                chunked.append(item.id)
                withKnownIssue("engine logits depend on the prefill chunking (one-row vs many-row chunk)") {
                    #expect(diff <= 1e-4, "\(item.id): \(lls) vs lm-eval \(item.loglikelihoods)")
                }
                continue
            }
            maxDiff = max(maxDiff, diff)
            #expect(diff <= 1e-4, "\(item.id): \(lls) vs lm-eval \(item.loglikelihoods)")
            #expect(r.map(\.isGreedy) == item.isGreedy, "\(item.id)")
            #expect((EvalRunner.argmax(lls) == item.target ? 1.0 : 0.0) == item.acc, "\(item.id)")
        }
        #expect(Double(chunked.count) <= max(1, 0.02 * Double(wanted.count)), "items off by more than 1e-4: \(chunked)")
        print("lm-eval conformance \(backend.identity.kind) \(file): \(wanted.count) items, max |Δ loglikelihood| \(maxDiff)"
              + (chunked.isEmpty ? "" : " on all but \(chunked.joined(separator: ", ")) (within 0.1: prefill chunking)"))
    }

    static func checkGenerations(_ backend: any Backend, _ file: String, items: Int) async throws {
        let fixture = try load(GSM8KFixture.self, file)
        let def = try TaskCatalog.load("gsm8k").definition
        let p = try Prepared("gsm8k")
        for item in fixture.items.prefix(items) {
            let input: GenerationInput = item.messages != nil
                ? .chat(try p.runner.messages(for: p.byID[item.id]!, in: p.items, pools: p.pools, def: p.def, shots: fixture.shots))
                : .text(try p.context(item.id, shots: fixture.shots))
            let out = try await backend.generate([GenerationRequestSpec(input: input, stop: def.generation!.until, maxTokens: fixture.maxGenToks)])[0]
            #expect(out == item.generated, "\(item.id): \(out.debugDescription) vs lm-eval \(item.generated.debugDescription)")
        }
    }

    @Test(.enabled(if: Needs.runs(modelReady), "needs the embedded models (make models) and .data (make data)"))
    func localEngineAgreesWithLMEval() async throws {
        let path = try #require(embeddedModel(Self.model), "\(Self.model): run scripts/fetch-models.sh")
        let backend = LocalBackend(engine: try Engine(path: path, threads: 2, contextLength: 4096), modelPath: path)
        try await Self.checkLoglikelihoods(backend, "mmlu.json", items: 40)
        try await Self.checkGenerations(backend, "gsm8k.json", items: 2)
        try await Self.checkGenerations(backend, "gsm8k_chat.json", items: 2)
        try await Self.checkLoglikelihoods(backend, "mmlu_fewshot.json", items: 10)
    }

    @Test(.enabled(if: Needs.runs(modelReady && featherExecutable != nil), "needs .build/debug/feather, the embedded models and .data"))
    func endpointAgreesWithLMEval() async throws {
        let server = try ServeProcess(model: try #require(embeddedModel(Self.model)))
        defer { server.stop() }
        let backend = OpenAIBackend(endpoints: [server.base + "/v1"], model: Self.model)
        // Fewer items than the local engine: every choice is a request of its own here.
        try await Self.checkLoglikelihoods(backend, "mmlu.json", items: 10)
        try await Self.checkGenerations(backend, "gsm8k.json", items: 1)
        try await Self.checkGenerations(backend, "gsm8k_chat.json", items: 1)
        try await Self.checkLoglikelihoods(backend, "mmlu_fewshot.json", items: 5)
    }

    // MARK: --output-format lm-eval

    /// Answers with lm-eval's own log-likelihoods and generations, looked up by request: the
    /// whole `feather eval` pipeline then has to reproduce lm-eval's numbers exactly.
    actor ReplayBackend: Backend {
        nonisolated let identity = BackendIdentity(kind: "replay", model: "lm-eval-fixture", location: "memory")
        nonisolated var parallelism: Int { 1 }
        var loglikelihood: [String: (Double, Bool)] = [:]
        var generations: [String: String] = [:]

        init(mmlu: MMLUFixture?, gsm8k: GSM8KFixture?) {
            for item in mmlu?.items ?? [] {
                for (i, c) in item.continuations.enumerated() { loglikelihood[item.prompt + "\u{0}" + c] = (item.loglikelihoods[i], item.isGreedy[i]) }
            }
            for item in gsm8k?.items ?? [] { generations[item.prompt ?? ""] = item.generated }
        }

        func loglikelihoods(_ requests: [LoglikelihoodRequest]) async throws -> [LoglikelihoodResult] {
            try requests.map { r in
                guard let (lp, greedy) = loglikelihood[r.context + "\u{0}" + r.continuation] else { throw EvalError.backend("no lm-eval answer for this request") }
                return LoglikelihoodResult(logprob: lp, isGreedy: greedy, tokens: 1)
            }
        }

        func generate(_ requests: [GenerationRequestSpec]) async throws -> [String] {
            try requests.map { r in
                guard case .text(let prompt) = r.input, let out = generations[prompt] else { throw EvalError.backend("no lm-eval generation for this prompt") }
                return out
            }
        }

        func rollingLoglikelihood(_ text: String, window: Int) async throws -> RollingResult { throw EvalError.backend("not replayed") }
    }

    static func keys(_ object: Any?) -> Set<String> { Set((object as? [String: Any])?.keys.map { $0 } ?? []) }

    @Test(.enabled(if: Needs.runs(dataReady), "needs .data (make data)"))
    func lmEvalOutputFormatMatchesLMEvalsFiles() async throws {
        let mmlu = try Self.load(MMLUFixture.self, "mmlu.json")
        let gsm8k = try Self.load(GSM8KFixture.self, "gsm8k.json")
        let out = temporaryDirectory()
        var options = EvalOptions(settings: EvalSettings(tasks: ["mmlu", "gsm8k"], items: mmlu.items.map(\.id) + gsm8k.items.map(\.id)),
                                  outputDirectory: out, dataDirectory: dataDirectory)
        options.progress = false
        options.outputFormat = .lmEval
        let report = try await EvalRunner(backend: ReplayBackend(mmlu: mmlu, gsm8k: gsm8k), options: options)
            .run([try TaskCatalog.load("mmlu"), try TaskCatalog.load("gsm8k")])
        let ours = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as! [String: Any]
        let files = try FileManager.default.contentsOfDirectory(atPath: out)

        for (fixture, group, subtask, ourGroup, ourSubtask) in [("results_mmlu.json", "mmlu_fw", "mmlu_fw_anatomy", "mmlu", "mmlu_anatomy"),
                                                                ("results_gsm8k.json", nil, "gsm8k_fw", nil, "gsm8k")] as [(String, String?, String, String?, String)] {
            let theirs = try Self.json(fixture)
            // The same top-level keys (lm-eval writes `groups` only when a group aggregates).
            #expect(Self.keys(ours).subtracting(["groups"]) == Self.keys(theirs).subtracting(["groups"]), "\(fixture)")
            let ourResults = ours["results"] as! [String: Any], theirResults = theirs["results"] as! [String: Any]
            let ourEntry = ourResults[ourSubtask] as! [String: Any], theirEntry = theirResults[subtask] as! [String: Any]
            // Subtask entries: the same keys (our MMLU adds acc_norm, which lm-eval's stock MMLU leaves out) and numbers.
            #expect(Self.keys(ourEntry).subtracting(["acc_norm,none", "acc_norm_stderr,none"]) == Self.keys(theirEntry), "\(subtask)")
            for (k, v) in theirEntry {
                if let x = v as? Double, k.contains(",") {
                    #expect(abs((ourEntry[k] as? Double ?? .nan) - x) < 1e-12, "\(ourSubtask) \(k): \(ourEntry[k] ?? "missing") vs lm-eval \(x)")
                }
            }
            #expect(ourEntry["sample_len"] as? Int == theirEntry["sample_len"] as? Int)
            for key in ["configs", "n-samples", "versions", "n-shot", "higher_is_better"] {
                #expect((ours[key] as? [String: Any])?[ourSubtask] != nil, "\(key)[\(ourSubtask)]")
            }
            let ourNSamples = (ours["n-samples"] as! [String: Any])[ourSubtask] as! [String: Int]
            #expect(ourNSamples == (theirs["n-samples"] as! [String: Any])[subtask] as! [String: Int])
            let ourConfig = Self.keys((ours["configs"] as! [String: Any])[ourSubtask])
            let theirConfig = Self.keys((theirs["configs"] as! [String: Any])[subtask])
            // Our config carries lm-eval's keys, less the data-loading hook our YAML needs (process_docs).
            #expect(theirConfig.subtracting(["process_docs"]).subtracting(ourConfig).isEmpty, "config keys missing: \(theirConfig.subtracting(ourConfig))")
            #expect(Self.keys(ours["config"]) == Self.keys(theirs["config"]))
            if let group, let ourGroup {
                let theirGroup = (theirs["groups"] as! [String: Any])[group] as! [String: Any]
                let ourGroupEntry = (ours["groups"] as! [String: Any])[ourGroup] as! [String: Any]
                for k in ["acc,none", "acc_stderr,none"] {
                    #expect(abs((ourGroupEntry[k] as? Double ?? .nan) - (theirGroup[k] as! Double)) < 1e-12, "\(ourGroup) \(k): \(ourGroupEntry[k] ?? "missing") vs lm-eval \(theirGroup[k]!)")
                }
                #expect(Self.keys(ourGroupEntry).subtracting(["acc_norm,none", "acc_norm_stderr,none"]) == Self.keys(theirGroup))
                #expect(((ours["group_subtasks"] as! [String: Any])[ourGroup] as! [String]).count == 57)
            }
            // Feather's own aggregate equals what the lm-eval files say.
            let task = report.tasks.first { $0.task == (ourGroup ?? ourSubtask) }!
            let primary = task.metrics.first { $0.name == task.primaryMetric }!
            let ourTop = (ourResults[ourGroup ?? ourSubtask] as! [String: Any])[LMEvalOutput.split(primary.name).metric + "," + LMEvalOutput.split(primary.name).filter] as! Double
            #expect(abs(ourTop - primary.value) < 1e-12)
        }

        // Samples: one file per subtask, lines in lm-eval's shape, the same prompt and target hashes.
        for (fixture, subtask, metric) in [("sample_mmlu.json", "mmlu_anatomy", "acc"), ("sample_gsm8k.json", "gsm8k", "exact_match")] {
            let theirs = try Self.json(fixture)
            let file = try #require(files.first { $0.hasPrefix("samples_\(subtask)_") && $0.hasSuffix(".jsonl") }, "samples_\(subtask)_DATE.jsonl")
            let lines = try String(contentsOfFile: out + "/" + file, encoding: .utf8).split(separator: "\n")
                .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            var ourKeys = Self.keys(lines[0])
            if metric == "acc" { ourKeys.remove("acc_norm") }
            #expect(ourKeys == Self.keys(theirs), "sample keys: \(ourKeys.symmetricDifference(Self.keys(theirs)))")
            let match = try #require(lines.first { $0["doc_id"] as? Int == theirs["doc_id"] as? Int && $0["filter"] as? String == theirs["filter"] as? String })
            for k in ["prompt_hash", "target_hash", "filter", "target"] {
                #expect(match[k] as? String == theirs[k] as? String, "\(subtask) \(k)")
            }
            #expect(match[metric] as? Double == theirs[metric] as? Double)
            #expect(Self.keys(match["arguments"]) == Self.keys(theirs["arguments"]))
            if metric == "acc" {
                let ours = (match["filtered_resps"] as! [[String]]).map { Double($0[0])! }
                let lm = (theirs["filtered_resps"] as! [[String]]).map { Double($0[0])! }
                #expect(ours == lm)
            } else {
                #expect(match["resps"] as? [[String]] == theirs["resps"] as? [[String]])
                #expect(match["filtered_resps"] as? [String] == theirs["filtered_resps"] as? [String])
            }
        }
    }
}

/// `feather serve MODEL` on a free port, for the tests that go through an endpoint.
final class ServeProcess {
    let process = Process()
    let base: String

    init(model: String) throws {
        let port = Int.random(in: 20000..<60000)
        base = "http://127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: try #require(featherExecutable))
        process.arguments = ["serve", model, "--port", String(port), "--parallel", "1", "-t", "2"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline {
            guard process.isRunning else { throw EvalError.backend("feather serve exited with \(process.terminationStatus)") }
            if Self.accepts(port) { return }
            usleep(300_000)
        }
        stop()
        throw EvalError.backend("feather serve did not become healthy in 180 s")
    }

    /// Whether something listens on the loopback port (the server binds once its model is loaded).
    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
