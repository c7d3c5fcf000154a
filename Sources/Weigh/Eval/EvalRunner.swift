import Backends
import Engine
import Foundation
import SeededRandom

/// How a run is set up beyond the tasks.
public struct EvalOptions: Sendable {
    public var settings: EvalSettings
    /// Where results.json, samples_TASK.jsonl and cache.jsonl go.
    public var outputDirectory: String
    public var dataDirectory: String?
    public var allowCodeExecution = false
    /// Scores MT-Bench answers.
    public var judge: (any Backend)?
    public var progress = true
    /// results.json in Featherweight's shape, or in lm-evaluation-harness's ("lm-eval": results.json
    /// and samples_TASK_DATE.jsonl as lm-eval writes them; Featherweight's report goes to feather-results.json).
    public var outputFormat: OutputFormat = .feather

    public enum OutputFormat: String, Sendable, CaseIterable {
        case feather
        case lmEval = "lm-eval"
    }

    public init(settings: EvalSettings, outputDirectory: String, dataDirectory: String? = nil) {
        self.settings = settings
        self.outputDirectory = outputDirectory
        self.dataDirectory = dataDirectory
    }
}

/// One item ready to run: its requests and how to score the answers.
struct PreparedItem: Sendable {
    var doc: Doc
    var id: String
    var group: String?
    var fields: [String: String]
    var prompt: String
}

/// Runs tasks against a backend, item by item through the resume cache, and aggregates.
public final class EvalRunner: Sendable {
    public let backend: any Backend
    public let options: EvalOptions
    let cache: EvalCache

    public init(backend: any Backend, options: EvalOptions) throws {
        self.backend = backend
        self.options = options
        try FileManager.default.createDirectory(atPath: options.outputDirectory, withIntermediateDirectories: true)
        cache = try EvalCache(path: (options.outputDirectory as NSString).appendingPathComponent("cache.jsonl"))
    }

    /// Checks that every task can run (judge, code execution) before any work starts.
    public func validate(_ tasks: [LoadedTask]) throws {
        for t in tasks {
            if t.definition.kind == .judged && options.judge == nil { throw EvalError.needsJudge }
            if t.definition.execution != nil && !options.allowCodeExecution { throw EvalError.needsCodeExecution }
        }
    }

    public func run(_ tasks: [LoadedTask]) async throws -> EvalReport {
        try validate(tasks)
        let started = Date()
        var results: [TaskResult] = []
        var exports: [LMEvalOutput.TaskOutput] = []
        for task in tasks {
            let r = try await runTask(task)
            results.append(r.result)
            if options.outputFormat == .lmEval {
                let (grouped, subtasks) = LMEvalOutput.subtasks(task.definition, prepared: r.prepared, results: r.items)
                exports.append(LMEvalOutput.TaskOutput(task: task, result: r.result, subtasks: subtasks, grouped: grouped))
            }
        }
        let report = EvalReport(
            schemaVersion: EvalReport.currentSchemaVersion, tool: EvalVersion.tool, toolVersion: EvalVersion.version,
            createdAt: UTCTime.iso8601(), model: backend.identity, settings: options.settings, tasks: results,
            host: ["os": ProcessInfo.processInfo.operatingSystemVersionString, "cpus": String(ProcessInfo.processInfo.activeProcessorCount)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // A metric over no items (a judge that never gave a score) is NaN: written "nan", as Python's json does NaN.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try encoder.encode(report)
        let native = options.outputFormat == .lmEval ? "feather-results.json" : "results.json"
        try data.write(to: URL(fileURLWithPath: (options.outputDirectory as NSString).appendingPathComponent(native)))
        if options.outputFormat == .lmEval {
            try LMEvalOutput.write(exports, report: report, directory: options.outputDirectory, started: started)
        }
        return report
    }

    // MARK: preparing items

    /// The rows a run scores: all, the first `limit` (of each subtask when `subtasks` gives each
    /// row's subtask, as lm-eval's --limit), or a seeded sample of `sample` (in file order).
    public static func select(count: Int, limit: Int?, sample: Int?, seed: UInt64, task: String, subtasks: [String]? = nil) -> [Int] {
        if let sample, sample < count {
            var rng = SplitMix64(seed: seed, stream: "sample:\(task)")
            return Array(rng.permutation(count).prefix(sample)).sorted()
        }
        if let limit, let subtasks {
            var taken: [String: Int] = [:]
            return (0..<count).filter { i in
                let n = taken[subtasks[i], default: 0]
                taken[subtasks[i]] = n + 1
                return n < limit
            }
        }
        if let limit { return Array(0..<min(limit, count)) }
        return Array(0..<count)
    }

    func prepare(_ def: TaskDefinition, _ docs: [Doc]) throws -> [PreparedItem] {
        try docs.map { doc in
            var f = doc.fields
            f["_index"] = String(doc.index)
            for name in def.strip ?? [] { f[name] = f[name]?.trimmingCharacters(in: .whitespacesAndNewlines) }
            let id = try PromptTemplate.render(def.id, f)
            if let s = def.shuffle {
                // One seeded permutation per item, keyed by its id: the same order in every run and sample.
                var rng = SplitMix64(seed: options.settings.seed, stream: "shuffle:\(def.name):\(id)")
                let perm = rng.permutation(s.fields.count)
                for (position, source) in perm.enumerated() {
                    guard let v = f[s.fields[source]] else { throw EvalError.badTemplate("no field '\(s.fields[source])'") }
                    f[s.into[position]] = v
                    if source == s.correct {
                        f["target_index"] = String(position)
                        f["target_label"] = s.labels[position]
                    }
                }
            }
            let group = try def.group.map { try PromptTemplate.render($0, f) }
            return PreparedItem(doc: doc, id: id, group: group, fields: f, prompt: try PromptTemplate.render(def.prompt, f))
        }
    }

    /// An item's prompt in parts: the preamble, k examples as (prompt, answer), the item's prompt.
    struct Turns {
        var preamble: String
        var examples: [(prompt: String, answer: String)]
        var prompt: String
    }

    /// Preamble, k examples (never the item itself, from its group when the task says so; the first
    /// k or a seeded draw, as the task says), then the item.
    func turns(for item: PreparedItem, in all: [PreparedItem], pools: [String: [Int]], def: TaskDefinition, shots: Int) throws -> Turns {
        let preamble = try def.preamble.map { try PromptTemplate.render($0, item.fields) } ?? ""
        guard shots > 0, let fs = def.fewshot else { return Turns(preamble: preamble, examples: [], prompt: item.prompt) }
        let candidates = fs.pool == "group" ? pools[item.group ?? ""] ?? [] : Array(all.indices)
        let pool = candidates.map { all[$0] }.filter { $0.id != item.id }
        let chosen: [PreparedItem]
        switch fs.sampler {
        case "first_n":
            guard shots <= pool.count else { throw EvalError.badOption("task \(def.name): \(shots) shots asked, the pool of \(item.id) has \(pool.count) other items") }
            chosen = Array(pool.prefix(shots))
        case nil:
            var rng = SplitMix64(seed: options.settings.seed, stream: "fewshot:\(def.name):\(item.id)")
            chosen = rng.permutation(pool.count).prefix(shots).map { pool[$0] }
        case let other?:
            throw EvalError.badTemplate("unknown few-shot sampler '\(other)' (first_n, or none for a seeded draw)")
        }
        let examples = try chosen.map { ($0.prompt, try PromptTemplate.render(fs.target, $0.fields)) }
        return Turns(preamble: preamble, examples: examples, prompt: item.prompt)
    }

    /// The prompt as one text: preamble, each example with its answer and the separator, the item.
    func context(for item: PreparedItem, in all: [PreparedItem], pools: [String: [Int]], def: TaskDefinition, shots: Int) throws -> String {
        let t = try turns(for: item, in: all, pools: pools, def: def, shots: shots)
        let delimiter = def.fewshot?.delimiter ?? ""
        let separator = def.fewshot?.separator ?? ""
        return t.preamble + t.examples.map { $0.prompt + delimiter + $0.answer + separator }.joined() + t.prompt
    }

    /// The prompt as chat messages. With a few-shot `delimiter` the examples are user/assistant
    /// turns and the preamble a system message, as lm-eval's --apply_chat_template
    /// (fewshot_as_multiturn); otherwise the whole text is one user message.
    func messages(for item: PreparedItem, in all: [PreparedItem], pools: [String: [Int]], def: TaskDefinition, shots: Int) throws -> [ChatMessage] {
        guard def.fewshot?.delimiter != nil else {
            return [ChatMessage(role: "user", content: try context(for: item, in: all, pools: pools, def: def, shots: shots))]
        }
        let t = try turns(for: item, in: all, pools: pools, def: def, shots: shots)
        var out: [ChatMessage] = t.preamble.isEmpty ? [] : [ChatMessage(role: "system", content: t.preamble)]
        for e in t.examples {
            out.append(ChatMessage(role: "user", content: e.prompt))
            out.append(ChatMessage(role: "assistant", content: e.answer))
        }
        out.append(ChatMessage(role: "user", content: t.prompt))
        return out
    }

    // MARK: running one task

    public func run(_ task: LoadedTask) async throws -> TaskResult {
        try await runWithItems(task).result
    }

    /// Runs one task and returns its per-item results too (what `compare` pairs between models).
    public func runWithItems(_ task: LoadedTask) async throws -> (result: TaskResult, items: [ItemResult]) {
        let r = try await runTask(task)
        return (r.result, r.items)
    }

    /// Runs one task: its result, its scored items and all its prepared rows.
    func runTask(_ task: LoadedTask) async throws -> (result: TaskResult, items: [ItemResult], prepared: [PreparedItem]) {
        let def = task.definition
        let start = Date()
        let docs = try Dataset.load(def.data.file, format: def.data.format, directory: options.dataDirectory)
        let prepared = try prepare(def, docs)
        let s = options.settings
        let selected = s.items.map { ids in let wanted = Set(ids); return prepared.indices.filter { wanted.contains(prepared[$0].id) } }
            ?? Self.select(count: prepared.count, limit: s.limit, sample: s.sample, seed: s.seed, task: def.name,
                           subtasks: def.groupsAreSubtasks == true ? prepared.map { $0.group ?? "" } : nil)
        let shots = s.shots ?? def.fewshot?.defaultShots ?? 0
        if shots > 0 && def.fewshot == nil { throw EvalError.badOption("task \(def.name) has no few-shot settings; drop --shots") }
        let mtBench = def.kind == .judged ? try MTBench(def: def, dataDirectory: options.dataDirectory) : nil
        let sandbox = def.execution.map { PythonSandbox(timeoutSeconds: $0.timeoutSeconds, memoryMB: $0.memoryMB) }
        if let sandbox { log("[\(def.name)] code execution: \(sandbox.description)") }

        var pools: [String: [Int]] = [:]
        for (i, p) in prepared.enumerated() { pools[p.group ?? "", default: []].append(i) }
        let groupPools = pools
        let progress = Progress(task: def.name, total: selected.count, enabled: options.progress)
        let results = ResultsBox(count: selected.count)
        let width = max(1, backend.parallelism)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var nextIndex = 0
            func addNext() {
                let slot = nextIndex
                let item = prepared[selected[slot]]
                nextIndex += 1
                group.addTask {
                    let ctx = try self.context(for: item, in: prepared, pools: groupPools, def: def, shots: shots)
                    let chat = def.kind == .generate && self.options.settings.chat && def.chat != false
                        ? try self.messages(for: item, in: prepared, pools: groupPools, def: def, shots: shots) : nil
                    let (result, cached) = try await self.score(item, context: ctx, messages: chat, def: def, task: task, mtBench: mtBench, sandbox: sandbox)
                    await results.set(slot, result)
                    await progress.advance(cached: cached)
                }
            }
            for _ in 0..<min(width, selected.count) { addNext() }
            while try await group.next() != nil {
                if nextIndex < selected.count { addNext() }
            }
        }
        let items = await results.all()
        let timing = await cache.computeSeconds(task: def.name, ids: items.map(\.id))
        await progress.finish(itemSeconds: timing.seconds, timed: timing.timed)
        let samplesFile = "samples_\(def.name).jsonl"
        try writeSamples(items, to: (options.outputDirectory as NSString).appendingPathComponent(samplesFile))
        let (metrics, primary) = Self.aggregate(def, items)
        var groups: [GroupResult]?
        if def.group != nil {
            let names = Array(Set(items.compactMap(\.group))).sorted()
            groups = names.map { name in GroupResult(name: name, metrics: Self.aggregate(def, items.filter { $0.group == name }).0) }
        }
        let result = TaskResult(task: def.name, version: def.version, kind: def.kind.rawValue, definitionHash: task.hash,
                                dataFile: def.data.file, itemsAvailable: prepared.count, n: items.count, shots: shots,
                                primaryMetric: primary, metrics: metrics, groups: groups, samplesFile: samplesFile,
                                cachedItems: await progress.cached, wallSeconds: Date().timeIntervalSince(start),
                                itemSeconds: timing.timed > 0 ? timing.seconds : nil, timedItems: timing.timed)
        return (result, items, prepared)
    }

    /// The cache key: what was asked of whom, under which task definition.
    func key(_ task: LoadedTask, _ item: PreparedItem, _ request: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let b = backend.identity
        let judge = task.definition.kind == .judged ? options.judge.map { "\($0.identity.kind):\($0.identity.model)@\($0.identity.location)" } : nil
        let data = try encoder.encode(CacheKey(task: task.definition.name, definitionHash: task.hash, item: item.id,
                                          backend: "\(b.kind):\(b.model)@\(b.location)", judge: judge, request: request))
        return SHA256.hex(data)
    }

    /// Scores one item; `messages` is its prompt as chat messages when a generate task runs with --chat.
    func score(_ item: PreparedItem, context: String, messages: [ChatMessage]? = nil, def: TaskDefinition, task: LoadedTask, mtBench: MTBench?,
               sandbox: PythonSandbox?) async throws -> (ItemResult, Bool) {
        switch def.kind {
        case .multipleChoice:
            guard let choiceTemplates = def.choices, let target = def.target else { throw EvalError.badTaskFile(task.source, "multiple_choice needs choices and target") }
            let choices = try choiceTemplates.map { try PromptTemplate.render($0, item.fields) }
            let delimiter = def.targetDelimiter ?? " "
            let requests = choices.map { LoglikelihoodRequest(context: context, continuation: delimiter + $0) }
            let k = try key(task, item, requests)
            if let hit = await cache.lookup(k) { return (hit, true) }
            guard let raw = item.fields[target.field] else { throw EvalError.badTemplate("no target field '\(target.field)'") }
            let gold: Int
            if let labels = target.labels {
                guard let i = labels.firstIndex(of: raw.trimmingCharacters(in: .whitespaces)) else { throw EvalError.badData(def.data.file, "item \(item.id): target '\(raw)' is not one of \(labels)") }
                gold = i
            } else {
                guard let i = Int(raw) else { throw EvalError.badData(def.data.file, "item \(item.id): target '\(raw)' is not an index") }
                gold = i
            }
            let answers = try await backend.loglikelihoods(requests)
            let lls = answers.map(\.logprob)
            let pred = Self.argmax(lls)
            // acc_norm as lm-eval: log-likelihood divided by the choice's length in characters.
            let predNorm = Self.argmax(zip(lls, choices).map { $0 / Double(max($1.count, 1)) })
            let result = ItemResult(id: item.id, group: item.group, prompt: context, choices: choices, logprobs: lls,
                                    isGreedy: answers.map(\.isGreedy), target: String(gold),
                                    extracted: ["pred": String(pred), "pred_norm": String(predNorm)],
                                    metrics: ["acc": pred == gold ? 1 : 0, "acc_norm": predNorm == gold ? 1 : 0], correct: pred == gold)
            try await cache.store(k, task: def.name, result)
            return (result, false)

        case .generate:
            guard let gen = def.generation else { throw EvalError.badTaskFile(task.source, "generate needs generation settings") }
            let input: GenerationInput = messages.map { .chat($0) } ?? .text(context)
            let request = GenerationRequestSpec(input: input, stop: gen.until, maxTokens: gen.maxTokens)
            let k = try key(task, item, request)
            if let hit = await cache.lookup(k) { return (hit, true) }
            let output = try await backend.generate([request])[0]
            var result = ItemResult(id: item.id, group: item.group, prompt: context, outputs: [output], target: "", metrics: [:])
            if let execution = def.execution, let sandbox {
                var f = item.fields
                f["output"] = output
                let program = try PromptTemplate.render(execution.program, f)
                let (passed, detail) = sandbox.run(program: program)
                result.target = item.fields["entry_point"] ?? ""
                result.metrics["pass@1"] = passed ? 1 : 0
                result.correct = passed
                result.details = ["execution": detail]
            } else {
                guard let goldTemplate = def.gold else { throw EvalError.badTaskFile(task.source, "generate needs gold or execution") }
                let gold = try Self.normalize(PromptTemplate.render(goldTemplate, item.fields), def.normalize)
                result.target = gold
                for (n, e) in (def.extractors ?? []).enumerated() {
                    let extracted = Self.extract(output, e)
                    result.extracted[e.name] = extracted
                    let hit = Self.normalize(extracted, def.normalize) == gold
                    result.metrics["exact_match,\(e.name)"] = hit ? 1 : 0
                    if n == 0 { result.correct = hit }
                }
            }
            try await cache.store(k, task: def.name, result)
            return (result, false)

        case .rolling:
            guard let rolling = def.rolling else { throw EvalError.badTaskFile(task.source, "rolling needs rolling settings") }
            let text = try PromptTemplate.render(rolling.text, item.fields)
            struct RollingKey: Encodable { var text: String; var window: Int }
            let k = try key(task, item, RollingKey(text: text, window: rolling.window))
            if let hit = await cache.lookup(k) { return (hit, true) }
            let r = try await backend.rollingLoglikelihood(text, window: rolling.window)
            let result = ItemResult(id: item.id, group: item.group, prompt: String(text.prefix(200)), target: "",
                                    metrics: ["logprob": r.logprob, "tokens": Double(r.tokens), "bytes": Double(text.utf8.count)])
            try await cache.store(k, task: def.name, result)
            return (result, false)

        case .judged:
            guard let mtBench, let judge = options.judge else { throw EvalError.needsJudge }
            return try await mtBench.score(item, runner: self, task: task, judge: judge)
        }
    }

    // MARK: answers and metrics

    static func argmax(_ x: [Double]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    /// lm-eval's regex filter: the first or last match; with groups, the first non-empty group.
    public static func extract(_ text: String, _ e: TaskDefinition.Extractor) -> String {
        guard let re = try? NSRegularExpression(pattern: e.regex) else { return e.fallback ?? "[invalid]" }
        let ns = text as NSString
        let matches = re.matches(in: text, range: NSRange(location: 0, length: ns.length))
        guard let m = e.select == "last" ? matches.last : matches.first else { return e.fallback ?? "[invalid]" }
        if m.numberOfRanges > 1 {
            for g in 1..<m.numberOfRanges where m.range(at: g).location != NSNotFound && m.range(at: g).length > 0 {
                return ns.substring(with: m.range(at: g)).trimmingCharacters(in: .whitespaces)
            }
        }
        return ns.substring(with: m.range).trimmingCharacters(in: .whitespaces)
    }

    /// lm-eval's exact_match preparation: regexes removed, case folded, and integers compared by value.
    public static func normalize(_ text: String, _ n: TaskDefinition.Normalize?) -> String {
        var s = text
        for pattern in n?.ignore ?? [] {
            s = s.replacingOccurrences(of: pattern, with: "", options: .regularExpression)
        }
        s = s.trimmingCharacters(in: .whitespacesAndNewlines)
        if n?.ignoreCase == true { s = s.lowercased() }
        if n?.integer == true, let v = Int(s.replacingOccurrences(of: ",", with: "")) { s = String(v) }
        return s
    }

    static func aggregate(_ def: TaskDefinition, _ items: [ItemResult]) -> ([MetricValue], String) {
        func meanMetric(_ name: String, _ values: [Double], higher: Bool = true) -> MetricValue {
            MetricValue(name: name, value: EvalStatistics.mean(values), stderr: EvalStatistics.meanStderr(values).nanToNil,
                        stderrMethod: "mean", n: values.count, higherIsBetter: higher)
        }
        switch def.kind {
        case .multipleChoice:
            return ([meanMetric("acc", items.map { $0.metrics["acc"] ?? 0 }), meanMetric("acc_norm", items.map { $0.metrics["acc_norm"] ?? 0 })], "acc")
        case .generate:
            if def.execution != nil { return ([meanMetric("pass@1", items.map { $0.metrics["pass@1"] ?? 0 })], "pass@1") }
            let names = (def.extractors ?? []).map { "exact_match,\($0.name)" }
            return (names.map { n in meanMetric(n, items.map { $0.metrics[n] ?? 0 }) }, names.first ?? "exact_match")
        case .rolling:
            let triples: [RollingSums] = items.map {
                RollingSums(logprob: $0.metrics["logprob"] ?? 0, tokens: $0.metrics["tokens"] ?? 0, bytes: $0.metrics["bytes"] ?? 0)
            }
            func bpb(_ t: [RollingSums]) -> Double { RollingSums.total(t).bitsPerByte }
            func tokenPPL(_ t: [RollingSums]) -> Double { RollingSums.total(t).tokenPerplexity }
            func bytePPL(_ t: [RollingSums]) -> Double { RollingSums.total(t).bytePerplexity }
            let fns: [(String, ([RollingSums]) -> Double)] = [("bits_per_byte", bpb), ("token_perplexity", tokenPPL), ("byte_perplexity", bytePPL)]
            return (fns.map { name, f in
                MetricValue(name: name, value: f(triples), stderr: EvalStatistics.bootstrapStderr(triples, resamples: 1000, f).nanToNil,
                            stderrMethod: "bootstrap", n: triples.count, higherIsBetter: false)
            }, "bits_per_byte")
        case .judged:
            // A turn the judge left unrated has no score: it is counted, not averaged in (FastChat drops score -1).
            let t1 = items.compactMap { $0.metrics["score_turn1"] }.filter { $0 >= 0 }
            let t2 = items.compactMap { $0.metrics["score_turn2"] }.filter { $0 >= 0 }
            let unrated = MetricValue(name: "unrated_turns", value: Double(2 * items.count - t1.count - t2.count), stderr: nil,
                                      stderrMethod: nil, n: 2 * items.count, higherIsBetter: false)
            return ([meanMetric("score", t1 + t2), meanMetric("score_turn1", t1), meanMetric("score_turn2", t2), unrated], "score")
        }
    }

    func writeSamples(_ items: [ItemResult], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for item in items {
            data.append(try encoder.encode(item))
            data.append(0x0A)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    func log(_ line: String) {
        if options.progress { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// Summed log-likelihood, tokens and bytes of rolling-task documents; the metrics are ratios of sums.
struct RollingSums {
    var logprob: Double, tokens: Double, bytes: Double
    static func total(_ items: [RollingSums]) -> RollingSums {
        var t = RollingSums(logprob: 0, tokens: 0, bytes: 0)
        for i in items { t.logprob += i.logprob; t.tokens += i.tokens; t.bytes += i.bytes }
        return t
    }
    var bitsPerByte: Double { -logprob / max(bytes, 1) / log(2.0) }
    var tokenPerplexity: Double { exp(-logprob / max(tokens, 1)) }
    var bytePerplexity: Double { exp(-logprob / max(bytes, 1)) }
}

/// What a cache key hashes.
struct CacheKey<R: Encodable>: Encodable {
    var task: String, definitionHash: String, item: String, backend: String, judge: String?, request: R
}

extension Double {
    var nanToNil: Double? { isNaN ? nil : self }
}

/// Results by slot, filled as items finish in any order.
actor ResultsBox {
    private var items: [ItemResult?]
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: ItemResult) { items[i] = r }
    func all() -> [ItemResult] { items.compactMap { $0 } }
}

/// Per-task progress on stderr: a bar redrawn in place on a terminal, a line per 10% otherwise.
actor Progress {
    let task: String
    let total: Int
    let enabled: Bool
    let start = Date()
    private(set) var done = 0
    private(set) var cached = 0
    private var lastDecile = -1
    private let tty = isatty(2) != 0

    init(task: String, total: Int, enabled: Bool) {
        self.task = task
        self.total = total
        self.enabled = enabled
        if enabled { Self.write("[\(task)] \(total) items\n") }
    }

    func advance(cached hit: Bool) {
        done += 1
        if hit { cached += 1 }
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let computed = done - cached
        let rate = elapsed > 0 ? Double(computed) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = total > 0 ? done * width / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "[\(task)] [\(bar)] \(done)/\(total) (\(cached) cached) \(String(format: "%.2f", rate)) items/s, eta \(Int(eta)) s"
        if tty {
            Self.write("\r" + line)
        } else {
            let decile = total > 0 ? done * 10 / total : 10
            if decile != lastDecile { lastDecile = decile; Self.write(line + "\n") }
        }
    }

    func finish(itemSeconds: Double, timed: Int) {
        guard enabled else { return }
        var line = "[\(task)] done: \(done) items (\(cached) from cache) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s"
        if cached > 0 && timed > 0 {
            line += "; compute time of the \(timed) timed items, earlier runs included: \(String(format: "%.1f", itemSeconds)) s"
        }
        Self.write((tty ? "\r\u{1B}[K" : "") + line + "\n")
    }

    static func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
