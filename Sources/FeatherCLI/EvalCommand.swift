import ArgumentParser
import Backends
import Foundation
import Weigh

/// `feather eval`: benchmark accuracy with standard errors, against the built-in engine or an endpoint.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model on benchmarks (MMLU, GSM8K, GPQA, ...) with the built-in engine or an OpenAI-compatible endpoint.",
        discussion: "Tasks: \(TaskCatalog.builtIn.joined(separator: ", ")), or a path to a task .json file. Results go to -o DIR (results.json, samples_TASK.jsonl); finished items are cached there, so a run started again resumes.")

    @Argument(help: "A .gguf path or a model short name (omit with --endpoint).") var model: String?
    @Option(name: .customLong("endpoint"), help: "OpenAI-compatible base URL; repeat to share the work between several.") var endpoints: [String] = []
    @Option(name: .customLong("model"), help: "Model name sent to the endpoint.") var modelName: String?
    @Option(help: "Comma-separated tasks.") var tasks: String
    @Option(help: "Score only the first N items of each task.") var limit: Int?
    @Option(help: "Score a seeded random sample of N items of each task.") var sample: Int?
    @Option(help: "Seed of samples, few-shot draws and choice shuffles.") var seed: UInt64 = 1234
    @Option(help: "Few-shot examples (default: the task's).") var shots: Int?
    @Flag(help: "Send generative prompts as chat messages (chat template / chat completions).") var chat = false
    @Option(help: "Requests in flight per endpoint.") var concurrency = 1
    @Option(name: .shortAndLong, help: "Output directory.") var output = "eval-out"
    @Option(name: .customLong("output-format"), help: "results.json as 'feather' or 'lm-eval' (lm-evaluation-harness's results.json and samples_TASK_DATE.jsonl; ours then goes to feather-results.json).") var outputFormat = "feather"
    @Option(help: "Context length of the local engine, in tokens.") var ctx = 4096
    @Option(name: .short, help: "Threads of the local engine (default: physical cores).") var t: Int?
    @Option(name: .customLong("batch-size"), help: "Local engine: generation requests decoded together in one batched forward pass (each gives the same text as alone).") var batchSize = 1
    @Option(name: .customLong("chat-template"), help: "Jinja chat template file for the local engine.") var chatTemplate: String?
    @Option(help: "Judge for mt-bench: a .gguf path or model short name run locally.") var judge: String?
    @Option(name: .customLong("judge-endpoint"), help: "Judge for mt-bench: an OpenAI-compatible base URL.") var judgeEndpoint: String?
    @Option(name: .customLong("judge-model"), help: "Model name sent to the judge endpoint.") var judgeModel: String?
    @Flag(name: .customLong("allow-code-execution"), help: "Let humaneval run model-written code in a sandboxed python3.") var allowCodeExecution = false
    @Option(name: .customLong("data-dir"), help: "Benchmark data folder (default: $FEATHER_DATA or .data).") var dataDir: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func validate() throws {
        try CommonOptions.checkThreads(t)
        try CommonOptions.checkContext(ctx)
    }

    func run() async throws {
        do {
            try await evaluate()
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error)
        }
    }

    func evaluate() async throws {
        if limit != nil && sample != nil { throw EvalError.badOption("give --limit or --sample, not both") }
        if let n = limit ?? sample, n <= 0 { throw EvalError.badOption("--limit/--sample must be positive") }
        if concurrency < 1 { throw EvalError.badOption("--concurrency must be at least 1") }
        if batchSize < 1 { throw EvalError.badOption("--batch-size must be at least 1") }
        let names = tasks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names.isEmpty { throw EvalError.badOption("--tasks is empty") }
        let loaded = try names.map { try TaskCatalog.load($0) }
        let apiKey = ProcessInfo.processInfo.environment["OPENAI_API_KEY"]

        let backend: any Backend
        if !endpoints.isEmpty {
            if model != nil { throw EvalError.badOption("give a MODEL or --endpoint, not both") }
            guard let modelName else { throw EvalError.badOption("--endpoint needs --model NAME") }
            backend = BackendFactory.backend(endpoints: endpoints, model: modelName, apiKey: apiKey, concurrency: concurrency)
        } else {
            guard let model else { throw EvalError.badOption("give a MODEL (.gguf path or short name) or --endpoint URL --model NAME") }
            let options = LocalModelOptions(threads: t, contextLength: ctx, sequences: batchSize, chatTemplateFile: chatTemplate)
            backend = try BackendFactory.backend(for: .file(path: try resolveModelPath(model)), options: options, warning: CommonOptions.warn)
        }

        var judgeBackend: (any Backend)?
        var judgeName: String?
        if let judgeEndpoint {
            guard let judgeModel else { throw EvalError.badOption("--judge-endpoint needs --judge-model NAME") }
            judgeBackend = BackendFactory.backend(endpoints: [judgeEndpoint], model: judgeModel, apiKey: apiKey, concurrency: concurrency)
            judgeName = "\(judgeModel)@\(judgeEndpoint)"
        } else if let judge {
            let path = try resolveModelPath(judge)
            judgeBackend = try BackendFactory.backend(for: .file(path: path), options: LocalModelOptions(threads: t, contextLength: ctx))
            judgeName = path
        }

        let settings = EvalSettings(tasks: loaded.map(\.definition.name), limit: limit, sample: sample, seed: seed, shots: shots,
                                    chat: chat, concurrency: concurrency, judge: judgeName)
        var options = EvalOptions(settings: settings, outputDirectory: output, dataDirectory: dataDir)
        options.judge = judgeBackend
        options.allowCodeExecution = allowCodeExecution
        options.progress = !quiet
        guard let format = EvalOptions.OutputFormat(rawValue: outputFormat) else {
            throw ValidationError("--output-format: '\(outputFormat)' is not one of \(EvalOptions.OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.outputFormat = format
        let runner = try EvalRunner(backend: backend, options: options)
        let report = try await runner.run(loaded)
        print(report.table())
        FileHandle.standardError.write(Data("results: \((output as NSString).appendingPathComponent("results.json"))\n".utf8))
    }
}
