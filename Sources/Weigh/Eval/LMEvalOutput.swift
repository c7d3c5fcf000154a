import Foundation
import Templates

// lm-evaluation-harness's files are Python `json.dumps` output of dicts in insertion order: written as
// Templates' `Value` (ordered objects, Python's float repr) through `pythonJSON`.
extension Value {
    /// A JSON object with its members in this order.
    static func object(_ members: [(String, Value)]) -> Value { .dict(OrderedDict(members)) }
    /// JSON null.
    static var null: Value { .none }
}

/// `feather eval --output-format lm-eval`: results.json and samples_TASK_DATE.jsonl in
/// lm-evaluation-harness 0.4's shapes, so tools that read lm-eval's output read ours. A task whose
/// groups are lm-eval subtasks (MMLU) is written as lm-eval writes its group: one subtask per
/// group (`mmlu_abstract_algebra`, ...) under the task's name as the group.
enum LMEvalOutput {
    /// One subtask's scored items, with what the samples file needs of each.
    struct Subtask {
        var name: String
        var alias: String
        /// Items the subtask has in the data file.
        var original: Int
        var items: [(item: PreparedItem, result: ItemResult, docID: Int)]
    }

    /// What `run` hands over per task.
    struct TaskOutput {
        var task: LoadedTask
        var result: TaskResult
        var subtasks: [Subtask]
        /// True when the subtasks form a group named after the task.
        var grouped: Bool
    }

    static func subtaskName(_ task: String, _ group: String) -> String {
        task + "_" + group.replacingOccurrences(of: " ", with: "_")
    }

    /// The rows of one task split by subtask, each row's doc_id its index within its subtask.
    static func subtasks(_ def: TaskDefinition, prepared: [PreparedItem], results: [ItemResult]) -> (grouped: Bool, [Subtask]) {
        let byID = Dictionary(results.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        guard def.groupsAreSubtasks == true else {
            let items = prepared.compactMap { p in byID[p.id].map { (item: p, result: $0, docID: p.doc.index) } }
            return (false, [Subtask(name: def.name, alias: def.name, original: prepared.count, items: items)])
        }
        var order: [String] = []
        var rows: [String: [PreparedItem]] = [:]
        for p in prepared {
            let g = p.group ?? ""
            if rows[g] == nil { order.append(g) }
            rows[g, default: []].append(p)
        }
        let subtasks = order.sorted().compactMap { g -> Subtask? in
            let members = rows[g]!
            let items = members.enumerated().compactMap { i, p in byID[p.id].map { (item: p, result: $0, docID: i) } }
            guard !items.isEmpty else { return nil }
            return Subtask(name: subtaskName(def.name, g), alias: g, original: members.count, items: items)
        }
        return (true, subtasks)
    }

    /// lm-eval's metric key and filter of one of our metric names ("acc" → acc,none;
    /// "exact_match,strict-match" → exact_match,strict-match).
    static func split(_ metric: String) -> (metric: String, filter: String) {
        let parts = metric.split(separator: ",", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "none")
    }

    static func metricNames(_ def: TaskDefinition, _ items: [ItemResult]) -> [String] {
        EvalRunner.aggregate(def, items).0.map(\.name)
    }

    /// The results entry of a subtask: its aggregated metrics, as lm-eval names them.
    static func resultsEntry(_ def: TaskDefinition, _ s: Subtask) -> Value {
        let (metrics, _) = EvalRunner.aggregate(def, s.items.map(\.result))
        var entry: [(String, Value)] = [("name", .string(s.name)), ("alias", .string(s.alias)), ("sample_len", .int(s.items.count))]
        for m in metrics {
            let (name, filter) = split(m.name)
            entry.append(("\(name),\(filter)", .double(m.value)))
            entry.append(("\(name)_stderr,\(filter)", m.stderr.map { .double($0) } ?? .string("N/A")))
        }
        return .object(entry)
    }

    /// lm-eval's group entry over subtasks weighted by size: the mean over all items, and the
    /// pooled standard error lm-eval computes (`pooled_sample_stderr`).
    static func groupEntry(_ def: TaskDefinition, _ subtasks: [Subtask]) -> Value {
        var entry: [(String, Value)] = [("alias", .string(def.name)), ("name", .string(def.name)),
                                              ("sample_len", .int(subtasks.reduce(0) { $0 + $1.items.count }))]
        var counts: [(String, Value)] = []
        let names = metricNames(def, subtasks.flatMap { $0.items.map(\.result) })
        for full in names {
            let (name, filter) = split(full)
            var stderrs: [Double] = [], sizes: [Double] = [], sum = 0.0
            for s in subtasks {
                let values = s.items.map { $0.result.metrics[full] ?? 0 }
                sum += values.reduce(0, +)
                stderrs.append(EvalStatistics.meanStderr(values))
                sizes.append(Double(values.count))
            }
            let n = sizes.reduce(0, +)
            entry.append(("\(name),\(filter)", .double(sum / n)))
            // lm-eval writes "N/A" where a subtask's stderr is not defined (one item).
            let pooled = pooledStderr(stderrs, sizes)
            entry.append(("\(name)_stderr,\(filter)", pooled.isNaN ? .string("N/A") : .double(pooled)))
            counts.append(("\(name),\(filter)", .int(Int(n))))
        }
        entry.append(("sample_count", .object(counts)))
        return .object(entry)
    }

    /// lm-eval's `pooled_sample_stderr`: √(Σ (nᵢ−1)·seᵢ²·nᵢ / (Σnᵢ − k) / Σnᵢ).
    static func pooledStderr(_ stderrs: [Double], _ sizes: [Double]) -> Double {
        let n = sizes.reduce(0, +)
        let pooledVariance = zip(stderrs, sizes).reduce(0.0) { $0 + ($1.1 - 1) * $1.0 * $1.0 * $1.1 } / (n - Double(sizes.count))
        return (pooledVariance / n).squareRoot()
    }

    static func config(_ t: TaskOutput, _ s: Subtask) throws -> Value {
        let def = t.task.definition
        var c: [(String, Value)] = [("task", .string(s.name)), ("task_alias", .string(s.alias))]
        if t.grouped { c.append(("tag", .string(def.name))) }
        c += [("dataset_path", .string(def.data.format == "jsonl" ? "json" : def.data.format)),
              ("dataset_kwargs", .object([("data_files", .object([("test", .string(def.data.file))]))])),
              ("test_split", .string("test"))]
        if let fs = def.fewshot {
            c.append(("fewshot_split", .string("test")))
            c.append(("fewshot_config", .object([("sampler", .string(fs.sampler ?? "default")), ("split", .string("test"))])))
        }
        c.append(("doc_to_text", .string(def.prompt)))
        switch def.kind {
        case .multipleChoice:
            c.append(("doc_to_target", .string(def.target?.field ?? "")))
            c.append(("doc_to_choice", .array((def.choices ?? []).map { .string($0) })))
        default:
            c.append(("doc_to_target", .string(def.gold ?? "")))
        }
        c.append(("unsafe_code", .bool(def.execution != nil)))
        if let first = s.items.first, let preamble = def.preamble {
            c.append(("description", .string(try PromptTemplate.render(preamble, first.item.fields))))
        } else {
            c.append(("description", .string("")))
        }
        c.append(("target_delimiter", .string(def.targetDelimiter ?? def.fewshot?.delimiter ?? " ")))
        c.append(("fewshot_delimiter", .string(def.fewshot?.separator ?? "\n\n")))
        c.append(("num_fewshot", .int(t.result.shots)))
        let names = Array(Set(metricNames(def, s.items.map(\.result)).map { split($0).metric })).sorted()
        c.append(("metric_list", .array(names.map { .object([("metric", .string($0)), ("aggregation", .string("mean")), ("higher_is_better", .bool(true))]) })))
        c.append(("output_type", .string(def.kind == .multipleChoice ? "multiple_choice" : def.kind == .rolling ? "loglikelihood_rolling" : "generate_until")))
        if let gen = def.generation {
            c.append(("generation_kwargs", generationKwargs(gen)))
        }
        c.append(("repeats", .int(1)))
        if let extractors = def.extractors {
            c.append(("filter_list", .array(extractors.map { e in
                .object([("name", .string(e.name)), ("filter", .array([
                    .object([("function", .string("regex")), ("regex_pattern", .string(e.regex))] + (e.select == "last" ? [("group_select", .int(-1))] : [])),
                    .object([("function", .string("take_first"))]),
                ]))])
            })))
        }
        c.append(("should_decontaminate", .bool(false)))
        c.append(("metadata", .object([("version", .double(Double(def.version))), ("config_source", .string(t.task.source))])))
        return .object(c)
    }

    static func generationKwargs(_ gen: TaskDefinition.Generation) -> Value {
        .object([("until", .array(gen.until.map { .string($0) })), ("do_sample", .bool(false)), ("temperature", .double(0)),
                 ("max_gen_toks", .int(gen.maxTokens))])
    }

    /// `doc`, `target` and the lm-eval lines (one per filter) of one item.
    static func samples(_ def: TaskDefinition, _ s: Subtask) throws -> [Value] {
        var lines: [Value] = []
        for (item, result, docID) in s.items {
            var docFields: [(String, Value)] = item.doc.fields.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
            docFields += item.doc.lists.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map { .string($0) })) }
            let doc = Value.object(docFields)
            let docHash = SHA256.hex(Data(try doc.pythonJSON(indent: 2).utf8))
            let promptHash = SHA256.hex(Data(result.prompt.utf8))
            switch def.kind {
            case .multipleChoice:
                let delimiter = def.targetDelimiter ?? " "
                let choices = result.choices ?? []
                let lls = result.logprobs ?? []
                let greedy = result.isGreedy ?? Array(repeating: false, count: lls.count)
                var arguments: [(String, Value)] = []
                for (i, c) in choices.enumerated() {
                    arguments.append(("gen_args_\(i)", .object([("arg_0", .string(result.prompt)), ("arg_1", .string(delimiter + c))])))
                }
                let pairs = zip(lls, greedy).map { Value.array([.string(Value.pythonFloat($0)), .string($1 ? "True" : "False")]) }
                let metricNames = result.metrics.keys.sorted()
                var line: [(String, Value)] = [
                    ("doc_id", .int(docID)), ("doc", doc), ("target", .string(result.target)), ("arguments", .object(arguments)),
                    ("resps", .array(pairs.map { .array([$0]) })), ("filtered_resps", .array(pairs)), ("filter", .string("none")),
                    ("metrics", .array(metricNames.map { .string($0) })), ("doc_hash", .string(docHash)),
                    ("prompt_hash", .string(promptHash)), ("target_hash", .string(SHA256.hex(Data(result.target.utf8)))),
                ]
                for m in metricNames { line.append((m, .double(result.metrics[m] ?? 0))) }
                lines.append(.object(line))
            case .generate:
                guard let gen = def.generation else { continue }
                let target = try def.gold.map { try PromptTemplate.render($0, item.fields) } ?? result.target
                let output = result.outputs?.first ?? ""
                let arguments = Value.object([("gen_args_0", .object([("arg_0", .string(result.prompt)), ("arg_1", generationKwargs(gen))]))])
                let filters = def.extractors.map { $0.map(\.name) } ?? ["none"]
                for filter in filters {
                    let metric = def.execution != nil ? "pass@1" : "exact_match"
                    let key = def.execution != nil ? "pass@1" : "exact_match,\(filter)"
                    lines.append(.object([
                        ("doc_id", .int(docID)), ("doc", doc), ("target", .string(target)), ("arguments", arguments),
                        ("resps", .array([.array([.string(output)])])),
                        ("filtered_resps", .array([.string(result.extracted[filter] ?? output)])), ("filter", .string(filter)),
                        ("metrics", .array([.string(metric)])), ("doc_hash", .string(docHash)), ("prompt_hash", .string(promptHash)),
                        ("target_hash", .string(SHA256.hex(Data(target.utf8)))), (metric, .double(result.metrics[key] ?? 0)),
                    ]))
                }
            default:
                continue
            }
        }
        return lines
    }

    /// Writes results.json and samples_SUBTASK_DATE.jsonl into `directory`.
    static func write(_ outputs: [TaskOutput], report: EvalReport, directory: String, started: Date) throws {
        let date = Date()
        let stamp = ISO8601DateFormatter.string(from: date, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate, .withTime, .withColonSeparatorInTime])
            .replacingOccurrences(of: ":", with: "-")
        var results: [(String, Value)] = [], groups: [(String, Value)] = [], groupSubtasks: [(String, Value)] = []
        var configs: [(String, Value)] = [], versions: [(String, Value)] = [], nShot: [(String, Value)] = []
        var higher: [(String, Value)] = [], nSamples: [(String, Value)] = []
        for t in outputs {
            let def = t.task.definition
            if t.grouped {
                let entry = groupEntry(def, t.subtasks)
                results.append((def.name, entry))
                groups.append((def.name, entry))
                groupSubtasks.append((def.name, .array(t.subtasks.map { .string($0.name) })))
                // lm-eval writes a group's version as the string of its metadata version.
                versions.append((def.name, .string(String(def.version))))
                nShot.append((def.name, .int(t.result.shots)))
                higher.append((def.name, .object(t.result.metrics.map { (split($0.name).metric, .bool($0.higherIsBetter)) }.uniqued())))
            }
            for s in t.subtasks {
                results.append((s.name, resultsEntry(def, s)))
                if !t.grouped { groupSubtasks.append((s.name, .array([]))) }
                configs.append((s.name, try config(t, s)))
                versions.append((s.name, .double(Double(def.version))))
                nShot.append((s.name, .int(t.result.shots)))
                higher.append((s.name, .object(t.result.metrics.map { (split($0.name).metric, .bool($0.higherIsBetter)) }.uniqued())))
                nSamples.append((s.name, .object([("original", .int(s.original)), ("effective", .int(s.items.count))])))
                let lines = try samples(def, s).map { try $0.pythonJSON() }.joined(separator: "\n") + "\n"
                try lines.write(toFile: (directory as NSString).appendingPathComponent("samples_\(s.name)_\(stamp).jsonl"), atomically: true, encoding: .utf8)
            }
        }
        let model = report.model
        let settings = report.settings
        var top: [(String, Value)] = [("results", .object(results))]
        if !groups.isEmpty { top.append(("groups", .object(groups))) }
        top += [
            ("group_subtasks", .object(groupSubtasks)), ("configs", .object(configs)), ("versions", .object(versions)),
            ("n-shot", .object(nShot)), ("higher_is_better", .object(higher)), ("n-samples", .object(nSamples)),
            ("config", .object([
                ("model", .string(model.kind)), ("model_args", .object([("model", .string(model.model)), ("location", .string(model.location))])),
                ("batch_size", .int(1)), ("batch_sizes", .array([])), ("device", .string("cpu")), ("use_cache", .null),
                ("limit", settings.limit.map { .double(Double($0)) } ?? .null), ("bootstrap_iters", .int(0)),
                ("gen_kwargs", .object([])), ("random_seed", .int(Int(truncatingIfNeeded: settings.seed))),
                ("numpy_seed", .int(Int(truncatingIfNeeded: settings.seed))), ("torch_seed", .int(Int(truncatingIfNeeded: settings.seed))),
                ("fewshot_seed", .int(Int(truncatingIfNeeded: settings.seed))),
            ])),
            ("git_hash", .null), ("date", .double(started.timeIntervalSince1970)),
            ("pretty_env_info", .string(report.host.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n"))),
            ("transformers_version", .string("N/A")), ("lm_eval_version", .string("N/A (\(report.tool) \(report.toolVersion))")),
            ("upper_git_hash", .null),
            ("task_hashes", .object(outputs.flatMap { t in t.subtasks.map { ($0.name, Value.string(t.task.hash)) } })),
            ("model_source", .string(model.kind)), ("model_name", .string(model.model)),
            ("model_name_sanitized", .string(model.model.replacingOccurrences(of: "/", with: "__"))),
            ("system_instruction", .null), ("system_instruction_sha", .null),
            ("fewshot_as_multiturn", settings.chat ? .bool(true) : .null), ("chat_template", .null), ("chat_template_sha", .null),
            ("total_evaluation_time_seconds", .string(String(date.timeIntervalSince(started)))),
        ]
        try Value.object(top).pythonJSON(indent: 2).write(toFile: (directory as NSString).appendingPathComponent("results.json"), atomically: true, encoding: .utf8)
    }
}

extension Array where Element == (String, Value) {
    /// The first member of each key.
    func uniqued() -> [(String, Value)] {
        var seen = Set<String>()
        return filter { seen.insert($0.0).inserted }
    }
}
