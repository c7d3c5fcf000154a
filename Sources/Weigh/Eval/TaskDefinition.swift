import Foundation

/// A benchmark described as data (Sources/Weigh/Tasks/*.json), in the spirit of
/// lm-evaluation-harness's task YAML: where the items come from, how one item becomes a prompt,
/// what is scored and how.
public struct TaskDefinition: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// Log-likelihood of each choice after the prompt (acc, acc_norm).
        case multipleChoice = "multiple_choice"
        /// Greedy generation, answer extracted and compared (exact_match) or executed (pass@1).
        case generate
        /// Log-likelihood of whole documents (bits per byte, perplexity).
        case rolling
        /// Two-turn chat answers scored by a judge model (MT-Bench).
        case judged
    }

    public struct DataSource: Codable, Sendable {
        /// File name under the data folder (`$FEATHER_DATA`, else `.data/`).
        public var file: String
        /// jsonl, csv or wikiextractor.
        public var format: String
        /// Other files the task reads (MT-Bench judge prompts and reference answers).
        public var extra: [String: String]?
    }

    /// Four columns become choices in a seeded random order (GPQA keeps the right answer in one column).
    public struct Shuffle: Codable, Sendable {
        public var fields: [String]
        /// Which of `fields` is the right answer.
        public var correct: Int
        /// Names of the shuffled choice fields, e.g. choice1...choice4.
        public var into: [String]
        /// Labels of the positions; the right answer's label goes into the field `target_label`.
        public var labels: [String]
    }

    public struct Target: Codable, Sendable {
        /// Field with the answer.
        public var field: String
        /// When given, the field holds one of these labels and the target is its index.
        public var labels: [String]?
    }

    public struct Fewshot: Codable, Sendable {
        /// Shots when `--shots` is not given.
        public var defaultShots: Int
        /// "group": examples from the item's own group (MMLU subject); "all": from the whole set.
        public var pool: String
        /// The answer written after an example's prompt (template).
        public var target: String
        public var separator: String
        /// Between an example's prompt and its target (lm-eval's target_delimiter). When given,
        /// `target` is the answer alone, and with `--chat` the examples are user/assistant turns
        /// (lm-eval's fewshot_as_multiturn); without it `target` carries its own delimiter.
        public var delimiter: String?
        /// How examples are picked from the pool, the item itself always left out: "first_n" takes
        /// the first k in file order (lm-eval's first_n sampler); nil draws k at random, seeded per item.
        public var sampler: String?
    }

    public struct Generation: Codable, Sendable {
        public var until: [String]
        public var maxTokens: Int
    }

    /// Pulls an answer out of generated text (lm-eval's regex filter).
    public struct Extractor: Codable, Sendable {
        public var name: String
        public var regex: String
        /// "first" or "last" match.
        public var select: String
        /// What the answer is when nothing matches ("[invalid]" as lm-eval).
        public var fallback: String?
    }

    /// How extracted and gold answers are normalized before comparing (lm-eval's exact_match options).
    public struct Normalize: Codable, Sendable {
        /// Regexes removed from both sides.
        public var ignore: [String]?
        public var ignoreCase: Bool?
        /// Compare as integers when both sides parse as one.
        public var integer: Bool?
    }

    /// Runs the generated code (HumanEval).
    public struct Execution: Codable, Sendable {
        /// The program run: template over the item fields plus `output`.
        public var program: String
        public var timeoutSeconds: Int
        public var memoryMB: Int
    }

    public struct Rolling: Codable, Sendable {
        /// The text scored (template).
        public var text: String
        /// Tokens per scoring window.
        public var window: Int
    }

    public struct Judge: Codable, Sendable {
        public var answerMaxTokens: Int
        public var judgeMaxTokens: Int
        /// Categories whose judge prompt includes the reference answer.
        public var referenceCategories: [String]
        /// Answer sampling temperature by category (FastChat's temperature_config); 0 is greedy.
        public var temperatures: [String: Double]?
        /// For a category not in `temperatures` (FastChat: 0.7).
        public var defaultTemperature: Double?
        /// Judge requests per turn until one gives a rating; after that the turn is reported unrated.
        public var judgeAttempts: Int?

        func temperature(category: String) -> Double { temperatures?[category] ?? defaultTemperature ?? 0 }
    }

    public var name: String
    public var version: Int
    public var description: String
    public var kind: Kind
    public var data: DataSource
    /// Item id (template); `{{_index}}` is the 0-based row.
    public var id: String
    /// Results are also reported per group (template, e.g. the MMLU subject).
    public var group: String?
    /// The groups are lm-eval subtasks (MMLU subjects): `--limit N` takes the first N items of each
    /// group, as lm-eval's --limit does per subtask, instead of the first N of the file.
    public var groupsAreSubtasks: Bool?
    /// Fields whose surrounding whitespace is stripped first.
    public var strip: [String]?
    public var shuffle: Shuffle?
    /// Written once before the examples and the item (template).
    public var preamble: String?
    /// The item's prompt (template).
    public var prompt: String
    /// The continuations scored (templates), each after `targetDelimiter`.
    public var choices: [String]?
    public var targetDelimiter: String?
    public var target: Target?
    public var fewshot: Fewshot?
    public var generation: Generation?
    /// The reference answer (template), normalized like the extracted one.
    public var gold: String?
    public var extractors: [Extractor]?
    public var normalize: Normalize?
    public var execution: Execution?
    public var rolling: Rolling?
    public var judge: Judge?
    /// Whether the prompt may be sent as a chat message with `--chat`.
    public var chat: Bool?
}

public enum EvalError: Error, CustomStringConvertible {
    case unknownTask(String, known: [String])
    case badTaskFile(String, String)
    case missingData(String)
    case badData(String, String)
    case badTemplate(String)
    case needsJudge
    case needsCodeExecution
    case badOption(String)
    case backend(String)

    public var description: String {
        switch self {
        case .unknownTask(let t, let known): "unknown task '\(t)'; known tasks: \(known.joined(separator: ", ")) (or a path to a task .json file)"
        case .badTaskFile(let p, let why): "task file \(p): \(why)"
        case .missingData(let p): "data file \(p) not found; run scripts/fetch-data.sh (or set FEATHER_DATA)"
        case .badData(let p, let why): "data file \(p): \(why)"
        case .badTemplate(let why): "task template: \(why)"
        case .needsJudge: "mt-bench needs a judge: --judge MODEL or --judge-endpoint URL --judge-model NAME"
        case .needsCodeExecution: "humaneval runs model-written code: pass --allow-code-execution to allow it (sandboxed subprocess: time, memory and process limits; no network and read-only files where Linux namespaces are allowed)"
        case .badOption(let why): why
        case .backend(let why): why
        }
    }
}

/// A task definition with its source and content hash.
public struct LoadedTask: Sendable {
    public var definition: TaskDefinition
    public var source: String
    /// SHA-256 of the definition file's bytes.
    public var hash: String
}

public enum TaskCatalog {
    /// Names of the built-in tasks (the JSON files shipped with Weigh).
    public static var builtIn: [String] {
        guard let dir = Bundle.module.url(forResource: "Tasks", withExtension: nil),
              let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path)
        else { return [] }
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// A built-in task by name, or a task file by path.
    public static func load(_ nameOrPath: String) throws -> LoadedTask {
        let url: URL
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") {
            url = URL(fileURLWithPath: nameOrPath)
        } else if let dir = Bundle.module.url(forResource: "Tasks", withExtension: nil) {
            url = dir.appendingPathComponent(nameOrPath + ".json")
            guard FileManager.default.fileExists(atPath: url.path) else { throw EvalError.unknownTask(nameOrPath, known: builtIn) }
        } else {
            throw EvalError.unknownTask(nameOrPath, known: builtIn)
        }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EvalError.badTaskFile(url.path, "cannot be read") }
        do {
            let definition = try JSONDecoder().decode(TaskDefinition.self, from: data)
            return LoadedTask(definition: definition, source: url.path, hash: SHA256.hex(data))
        } catch {
            throw EvalError.badTaskFile(url.path, "\(error)")
        }
    }
}

/// `{{field}}` substitution over an item's fields.
public enum PromptTemplate {
    public static func render(_ template: String, _ fields: [String: String]) throws -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw EvalError.badTemplate("unclosed {{ in \(template.prefix(60))") }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = fields[name] else { throw EvalError.badTemplate("no field '\(name)' (fields: \(fields.keys.sorted().joined(separator: ", ")))") }
            out += value
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}
