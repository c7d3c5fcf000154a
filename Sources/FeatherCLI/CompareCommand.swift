import ArgumentParser
import Foundation
import Weigh

struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Which of these models should I use? Facts, fit, speed and benchmark scores side by side, with significance tests.",
        discussion: """
            Each MODEL is a .gguf file or short name (read directly and measured here), a catalog id of a published \
            configuration (fit and speed-of-light rows only; with --measure-synthetic also speed and memory measured \
            here on random weights of its shape), or an endpoint http://HOST:PORT/v1#MODEL. Reports: the \
            terminal table, and report.md, report.json, report.html in the output folder.
            """)

    @Argument(help: "Two or more models.") var models: [String]
    @Option(help: "Comma-separated tasks (quick default: mmlu,wiki-bpb; full: mmlu,gsm8k,gpqa-diamond,wiki-bpb).") var tasks: String?
    @Option(help: "Comma-separated hardware ids (see `feather fit --help`).") var hardware = "this-machine,rtx-4090,mac-16gb,mac-32gb,a100-40gb"
    @Flag(help: "Quick workload (default): seeded samples of each task and a short benchmark.") var quick = false
    @Flag(help: "Full workload: whole datasets, llama-bench's default sizes.") var full = false
    @Option(name: .shortAndLong, help: "Folder for report.md, report.json, report.html.") var output = "out/compare"
    @Option(help: "Quantization assumed for catalog models: q4_k_m, q8_0, q4_0 or f16.") var quant = "q4_k_m"
    @Option(help: "Context length for memory and speed-of-light rows.") var ctx = 8192
    @Option(help: "KV cache element type: f16 or q8_0.") var kvType = "f16"
    @Option(help: "Significance level.") var alpha = 0.05
    @Option(name: .shortAndLong, help: "Threads (default: physical cores).") var threads: Int?
    @Option(help: "Items per task (a seeded sample; overrides --quick's sizes and --full's whole datasets).") var limit: Int?
    @Option(help: "Benchmark data folder (default: $FEATHER_DATA or .data).") var dataDir: String?
    @Flag(help: "Measure catalog models on synthesized files (random weights of the published shapes, cached under the models folder): pp512, tg128, tg128 at --synthetic-depths, load time, peak RSS, KV cache. Speed and memory only.")
    var measureSynthetic = false
    @Option(help: "Depths for decode on synthetic models, comma-separated.") var syntheticDepths = "4096,16384"
    @Option(help: "Synthetic models keep only their first N blocks (quick runs; not the model's speed).") var syntheticLayers: Int?

    func run() async throws {
        guard models.count >= 2 else { throw ValidationError("compare needs at least two models") }
        guard !(quick && full) else { throw ValidationError("--quick and --full exclude each other") }
        guard ctx > 0 else { throw ValidationError("--ctx must be positive") }
        guard alpha > 0, alpha < 1 else { throw ValidationError("--alpha must be between 0 and 1") }
        try CommonOptions.checkThreads(threads, option: "--threads")
        let options = try FitOptions.parse(hardware: hardware, quant: quant, kvType: kvType, threads: threads)
        let taskList = tasks.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        let nThreads = CommonOptions.threads(threads)
        var plan = full ? MeasurementPlan.full(tasks: taskList, threads: nThreads) : MeasurementPlan.quick(tasks: taskList, threads: nThreads)
        for t in plan.tasks {
            let def: TaskDefinition
            do { def = try TaskCatalog.load(t).definition } catch { throw ValidationError("task '\(t)': \(error)") }
            if def.kind == .judged { throw ValidationError("task '\(t)' needs a judge model: run it with feather eval --judge") }
            if def.execution != nil { throw ValidationError("task '\(t)' runs generated code: run it with feather eval --allow-code-execution") }
        }
        if measureSynthetic {
            let depths = try syntheticDepths.split(separator: ",").map { d -> Int in
                guard let n = Int(d.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                    throw ValidationError("--synthetic-depths: '\(d)' is not a token count")
                }
                return n
            }
            if let n = syntheticLayers, n < 1 { throw ValidationError("--synthetic-layers must be at least 1") }
            plan.synthetic = .init(layers: syntheticLayers, depths: depths)
            plan.promptTokens = 512
            plan.generatedTokens = 128
        } else if syntheticLayers != nil {
            throw ValidationError("--synthetic-layers goes with --measure-synthetic")
        }
        if let limit {
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
            plan.itemLimit = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0, limit) })
        }
        let runner = CompareRunner(hardware: options.hardware, quants: options.quants, context: ctx, kv: options.kv, alpha: alpha,
                                   plan: plan, measurer: EngineMeasurer(outputDirectory: (output as NSString).appendingPathComponent("eval"),
                                                                        dataDirectory: dataDir),
                                   unmeasuredReason: "not measured")
        let start = Date()
        let result = try await runner.run(models, command: ["feather", "compare"] + CommandLine.arguments.dropFirst(2)) { line in
            FileHandle.standardError.write(Data("[\(Self.elapsed(start))] \(line)\n".utf8))
        }
        let color = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        print(TerminalReport.render(result, color: color))
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: output)
        try MarkdownReport.render(result).write(to: dir.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
        try JSONReport.render(result).write(to: dir.appendingPathComponent("report.json"), atomically: true, encoding: .utf8)
        try HTMLReport.render(result).write(to: dir.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        print("\nreports: \(output)/report.md, report.json, report.html (\(Self.elapsed(start)))")
    }

    static func elapsed(_ start: Date) -> String {
        let s = Int(Date().timeIntervalSince(start))
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
