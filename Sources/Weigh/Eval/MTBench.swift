import Backends
import Engine
import Foundation
import SeededRandom

/// MT-Bench (FastChat llm_judge): two-turn answers, each turn rated 1-10 by a judge model with
/// the single-answer judge prompts; the math, reasoning and coding questions are judged against
/// the GPT-4 reference answers.
struct MTBench: Sendable {
    struct JudgePrompt: Sendable {
        var system: String
        var template: String
    }

    let prompts: [String: JudgePrompt]
    let references: [String: [String]]
    let settings: TaskDefinition.Judge

    init(def: TaskDefinition, dataDirectory: String?) throws {
        guard let judge = def.judge, let extra = def.data.extra, let promptsFile = extra["judge_prompts"],
              let referenceFile = extra["references"]
        else { throw EvalError.badTaskFile(def.name, "a judged task needs judge settings and data.extra judge_prompts, references") }
        settings = judge
        var prompts: [String: JudgePrompt] = [:]
        for doc in try Dataset.load(promptsFile, format: "jsonl", directory: dataDirectory) {
            if let name = doc.fields["name"], let system = doc.fields["system_prompt"], let template = doc.fields["prompt_template"] {
                prompts[name] = JudgePrompt(system: system, template: template)
            }
        }
        for name in ["single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"] where prompts[name] == nil {
            throw EvalError.badData(promptsFile, "no judge prompt '\(name)'")
        }
        self.prompts = prompts
        var references: [String: [String]] = [:]
        let path = Dataset.path(referenceFile, directory: dataDirectory)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw EvalError.missingData(path) }
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let id = o["question_id"], let choices = o["choices"] as? [[String: Any]],
                  let turns = choices.first?["turns"] as? [String] else { continue }
            references["\(id)"] = turns
        }
        self.references = references
    }

    /// Python str.format over named fields ({{ and }} are literal braces).
    static func format(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        var i = template.startIndex
        while i < template.endIndex {
            let c = template[i]
            let next = template.index(after: i)
            if c == "{", next < template.endIndex, template[next] == "{" { out.append("{"); i = template.index(after: next); continue }
            if c == "}", next < template.endIndex, template[next] == "}" { out.append("}"); i = template.index(after: next); continue }
            if c == "{", let close = template[next...].firstIndex(of: "}"), let v = values[String(template[next..<close])] {
                out += v
                i = template.index(after: close)
                continue
            }
            out.append(c)
            i = next
        }
        return out
    }

    /// FastChat's rating (common.py run_judge_single): the first [[x]], else the first [x]; nil when
    /// the judge gave neither.
    static func rating(_ judgment: String) -> Double? {
        for pattern in [#"\[\[(\d+\.?\d*)\]\]"#, #"\[(\d+\.?\d*)\]"#] {
            if let re = try? NSRegularExpression(pattern: pattern),
               let m = re.firstMatch(in: judgment, range: NSRange(judgment.startIndex..., in: judgment)),
               let r = Range(m.range(at: 1), in: judgment), let v = Double(judgment[r]) {
                return v
            }
        }
        return nil
    }

    /// The judge's answer and its rating: the judge is asked again (up to `judgeAttempts` requests in
    /// all) while it gives no rating or its endpoint fails; a failure on the last attempt is thrown.
    func judgment(_ request: GenerationRequestSpec, judge: any Backend) async throws -> (text: String, rating: Double?, attempts: Int) {
        let attempts = max(1, settings.judgeAttempts ?? 1)
        var text = ""
        for attempt in 1...attempts {
            do {
                text = try await judge.generate([request])[0]
            } catch {
                if attempt == attempts { throw error }
                continue
            }
            if let r = Self.rating(text) { return (text, r, attempt) }
        }
        return (text, nil, attempts)
    }

    /// A seed per item and turn under the run seed, below 2^31 (endpoints take a 32-bit seed).
    static func answerSeed(_ runSeed: UInt64, item: String, turn: Int) -> UInt64 {
        var rng = SplitMix64(seed: runSeed, stream: "mt-bench-answer:\(item):\(turn)")
        return rng.next() & 0x7FFF_FFFF
    }

    /// Both turns answered (at the category's temperature) and judged. An item with a turn the judge
    /// left unrated is returned without that turn's score and not cached, so a later run asks again.
    func score(_ item: PreparedItem, runner: EvalRunner, task: LoadedTask, judge: any Backend) async throws -> (ItemResult, Bool) {
        let turns = item.doc.lists["turns"] ?? []
        guard turns.count >= 2 else { throw EvalError.badData(task.definition.data.file, "question \(item.id) has fewer than two turns") }
        let category = item.fields["category"] ?? ""
        let useReference = settings.referenceCategories.contains(category)
        let reference = references[item.id] ?? []
        if useReference && reference.count < 2 { throw EvalError.badData("references", "no reference answer for question \(item.id)") }
        let temperature = settings.temperature(category: category)
        let seed = runner.options.settings.seed
        struct Request: Encodable {
            var turns: [String]; var maxTokens: Int; var judgeMaxTokens: Int; var reference: [String]?; var temperature: Double; var seed: UInt64?
        }
        let k = try runner.key(task, item, Request(turns: turns, maxTokens: settings.answerMaxTokens, judgeMaxTokens: settings.judgeMaxTokens,
                                                   reference: useReference ? reference : nil, temperature: temperature,
                                                   seed: temperature > 0 ? seed : nil))
        // Caches written before unrated turns were left out hold them as -1: such an item is judged again.
        if let hit = await runner.cache.lookup(k), [1, 2].allSatisfy({ (hit.metrics["score_turn\($0)"] ?? -1) >= 0 }) { return (hit, true) }
        let backend = runner.backend
        func answer(_ messages: [ChatMessage], turn: Int) async throws -> String {
            let request = GenerationRequestSpec(input: .chat(messages), maxTokens: settings.answerMaxTokens, temperature: temperature,
                                                seed: temperature > 0 ? Self.answerSeed(seed, item: item.id, turn: turn) : nil)
            return try await backend.generate([request])[0]
        }
        var messages = [ChatMessage(role: "user", content: turns[0])]
        let answer1 = try await answer(messages, turn: 1)
        messages += [ChatMessage(role: "assistant", content: answer1), ChatMessage(role: "user", content: turns[1])]
        let answer2 = try await answer(messages, turn: 2)

        var values = ["question": turns[0], "answer": answer1, "question_1": turns[0], "question_2": turns[1],
                      "answer_1": answer1, "answer_2": answer2]
        if useReference { values["ref_answer_1"] = reference[0]; values["ref_answer_2"] = reference[1] }
        let names = useReference ? ("single-math-v1", "single-math-v1-multi-turn") : ("single-v1", "single-v1-multi-turn")
        var result = ItemResult(id: item.id, group: category, prompt: turns[1], outputs: [answer1, answer2],
                                target: useReference ? reference.joined(separator: "\n---\n") : "", metrics: [:], details: [:])
        var rated = true
        for (turn, name) in [(1, names.0), (2, names.1)] {
            let p = prompts[name]!
            // FastChat judges at temperature 0 with the system prompt, then the filled template.
            let request = GenerationRequestSpec(input: .chat([ChatMessage(role: "system", content: p.system),
                                                              ChatMessage(role: "user", content: Self.format(p.template, values))]),
                                                maxTokens: settings.judgeMaxTokens, temperature: 0)
            let j = try await judgment(request, judge: judge)
            result.details?["judgment_turn\(turn)"] = j.text
            result.details?["judge_attempts_turn\(turn)"] = String(j.attempts)
            if let r = j.rating {
                result.extracted["score_turn\(turn)"] = String(r)
                result.metrics["score_turn\(turn)"] = r
            } else {
                result.extracted["score_turn\(turn)"] = "unrated"
                rated = false
            }
        }
        if rated { try await runner.cache.store(k, task: task.definition.name, result) }
        return (result, false)
    }
}
