import ArgumentParser
import Foundation
import Backends
import Weigh

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speed and memory of local models (llama-bench's method), load tests of OpenAI-compatible servers, kernel throughput.",
        discussion: """
            feather bench MODEL... [-p 512] [-n 128] [-pg 512,128] [-d 0] [-t 1,2] [-r 5] [-o md|json|csv|jsonl] \
            [--vs-llama-cpp PATH [--vs-llama-cpp-args "ARGS"]]: random tokens, one warm-up, pp = one batched prompt pass, tg = single-token decode \
            steps, pg = both, -d fills the KV cache first (untimed); t/s = mean of the per-repetition rates ± sample \
            standard deviation. Lists give one row per combination. Also: cold and warm load time, peak RSS, KV-cache bytes.
            --vs-llama-cpp takes llama.cpp's llama-bench or ik_llama.cpp's (told apart by its --help; ik's runs a \
            generation test at a depth as its -gp DEPTH,N test and has none for prompt tests at a depth); \
            --vs-llama-cpp-args adds arguments to each of its runs, e.g. "-rtr 1 -fa 1" for ik's run-time repacking \
            and flash attention.
            A catalog id as MODEL (mistral-small-3.1-24b, gemma-3-27b, ...) is first synthesized: the published shapes, \
            tensor types (--quant) and metadata with random weights, cached under the models folder's synthetic/; its rows \
            are labelled "synthetic weights: speed and memory only". Refused when fit says it cannot fit this machine.

            feather bench --endpoint URL --model NAME [--endpoint URL2 ...] [--concurrency 1,4,16] [--rate R|inf] \
            [--num-prompts N] [--input-tokens N --output-tokens N | --dataset mt-bench|gsm8k] [--api-key K] \
            [--slo ttft:500,tpot:50]: streams every request; TTFT, TPOT, ITL, E2E latency, throughput, goodput, errors \
            by kind (definitions are printed under the table).

            --kernels prints, per weight type, the matrix-vector throughput in GB/s of weights read \
            (a ~256 MiB matrix, 8 times this machine's L3) and the matrix-matrix GFLOP/s (1024 rows × 64 activation \
            rows), with 1 and all threads, next to a memory-read bandwidth probe on the same machine.

            Every model or endpoint run writes a JSON result (BenchResult, schemaVersion 1) to --result \
            (default out/bench/<kind>-<time>.json). Ctrl-C prints what was measured so far.
            """)

    @Argument(help: "Model files or short names.") var models: [String] = []

    // Local benchmark (llama-bench's options).
    @Option(name: .customShort("p"), help: "Prompt tokens, comma-separated (pp tests).") var prompt = "512"
    @Option(name: .customShort("n"), help: "Generated tokens, comma-separated (tg tests).") var gen = "128"
    @Option(name: .customLong("pg", withSingleDash: true), help: "Prompt,generated pair (pp+tg test); repeatable.")
    var promptGen: [String] = []
    @Option(name: .customShort("d"), help: "Depths: tokens in the KV cache before each test, comma-separated.") var depth = "0"
    @Option(name: .customShort("r"), help: "Repetitions per test.") var repetitions = 5
    @Option(name: .customShort("o"), help: "Output: md, json, csv, jsonl.") var output = "md"
    @Option(name: .customLong("cache-type"), help: "KV cache type: f16 or f32.") var cacheType = "f16"
    @Flag(name: .customLong("no-warmup"), help: "Skip the warm-up run.") var noWarmup = false
    @Flag(name: .customLong("no-load-time"), help: "Skip the cold and warm load measurements.") var noLoadTime = false
    @Option(name: .customLong("vs-llama-cpp"), help: "A llama-bench binary (llama.cpp's or ik_llama.cpp's): run it on the same tests, alternating with ours.")
    var llamaBench: String?
    @Option(name: .customLong("vs-llama-cpp-args"), parsing: .unconditional, help: "Extra arguments for each llama-bench run, space-separated (e.g. \"-rtr 1 -fa 1\" for ik_llama.cpp).")
    var llamaBenchArgs: String?
    @Option(help: "Where to write the JSON result (default out/bench/<kind>-<time>.json).") var result: String?
    @Option(help: "A catalog id as MODEL is synthesized (random weights, cached under the models folder) at this recipe: q4_k_m, q8_0, q4_0, f16.")
    var quant = "q4_k_m"
    @Option(name: .customLong("synthetic-layers"), help: "A catalog id as MODEL keeps only its first N blocks (quick runs; not the model's speed).")
    var syntheticLayers: Int?

    // Serving load test.
    @Option(help: "OpenAI-compatible endpoint (http://host:port or .../v1); repeat to share the load round-robin.")
    var endpoint: [String] = []
    @Option(help: "Model name sent to the endpoints.") var model: String?
    @Option(help: "Chat or text completions API: chat, completions.") var api = "chat"
    @Option(help: "Most requests in flight, comma-separated.") var concurrency = "1"
    @Option(help: "Poisson request rate per second, comma-separated, or inf (all at once).") var rate = "inf"
    @Option(name: .customLong("num-prompts"), help: "Requests per run.") var numPrompts = 32
    @Option(name: .customLong("input-tokens"), help: "Words (≈ tokens) per random prompt.") var inputTokens = 128
    @Option(name: .customLong("output-tokens"), help: "max_tokens of each request.") var outputTokens = 128
    @Option(help: "Prompts from a dataset in .data/: mt-bench, gsm8k (instead of random words).") var dataset: String?
    @Option(name: .customLong("api-key"), help: "Bearer token.") var apiKey: String?
    @Option(help: "Service-level objectives in ms, e.g. ttft:500,tpot:50 (keys ttft, tpot, itl, e2el).") var slo: String?
    @Option(help: "Seconds before a request counts as timed out.") var timeout = 300.0
    @Option(help: "Warm-up requests per endpoint before measuring.") var warmup = 1
    @Flag(name: .customLong("no-ignore-eos"), help: "Do not ask the server to ignore end-of-sequence (random prompts only).")
    var noIgnoreEOS = false

    // Kernels.
    @Flag(help: "Benchmark the numeric kernels.") var kernels = false
    @Option(help: "Instruction set: scalar, avx2, avx512, neon (default: FEATHER_ISA, else the best this CPU has).")
    var isa: String?
    @Option(help: "Comma-separated ggml weight types (default: every supported type).") var types: String?
    @Option(name: .shortAndLong, help: "Comma-separated thread counts (default: the physical cores; --kernels: 1 and those).")
    var threads: String?
    @Flag(help: "--kernels: print JSON results instead of lines.") var json = false

    func run() async throws {
        do {
            if kernels { return try runKernels() }
            if !endpoint.isEmpty { return try await runLoadTest() }
            guard !models.isEmpty else {
                throw ValidationError("give MODEL..., --endpoint URL --model NAME, or --kernels")
            }
            try runLocal()
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw e
        } catch {
            throw fail(error)
        }
    }

    func commandLine() -> [String] { CommandLine.arguments }

    func writeResult(_ r: BenchResult) throws {
        let path: String
        if let result {
            path = result
        } else {
            path = "out/bench/\(r.kind.rawValue)-\(UTCTime.compact()).json"
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try BenchReport.json(r, pretty: true).write(toFile: path, atomically: true, encoding: .utf8)
        stderr("result: \(path)")
    }

    func stderr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func runLocal() throws {
        guard let format = BenchOutputFormat(rawValue: output) else { throw ValidationError("-o is one of md, json, csv, jsonl") }
        guard var o = LocalBenchOptions(cacheTypeName: cacheType) else { throw ValidationError("--cache-type is f16 or f32") }
        guard repetitions >= 1 else { throw ValidationError("-r must be at least 1") }
        o.prompts = try parseIntList(prompt, option: "-p")
        o.gens = try parseIntList(gen, option: "-n")
        o.promptGen = try promptGen.map { s in
            let v = try parseIntList(s, option: "-pg")
            guard v.count == 2 else { throw BenchError.badList(option: "-pg", value: s) }
            return (v[0], v[1])
        }
        o.depths = try parseIntList(depth, option: "-d")
        if let threads { o.threads = try parseIntList(threads, option: "-t", allowZero: false) }
        for n in o.threads { try CommonOptions.checkThreads(n) }
        o.repetitions = repetitions
        o.warmup = !noWarmup
        o.measureLoad = !noLoadTime
        guard !o.specs.isEmpty else { throw ValidationError("no tests: -p, -n and -pg are all 0") }
        let host = try ProcessMetrics.selectedHost()
        let longest = o.specs.map { $0.nPrompt + $0.nGen + $0.depth }.max() ?? 1
        let paths = try models.map { try benchPath($0, context: longest) }
        if llamaBenchArgs != nil && llamaBench == nil { throw ValidationError("--vs-llama-cpp-args needs --vs-llama-cpp PATH") }
        let extra = (llamaBenchArgs ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        let llama = try llamaBench.map {
            try LlamaBench(executable: $0, repetitions: repetitions, cacheType: cacheType, extraArguments: extra)
        }
        if let llama, let spec = o.specs.first(where: { !llama.supports($0) }) {
            throw ValidationError("\(llama.flavor.rawValue)'s llama-bench cannot run \(spec.name): it has no prompt test at a depth (-d with -n only)")
        }
        Interruption.shared.install()
        var result = BenchResult(kind: .local, host: host, command: commandLine())
        result.models = []
        let bench = LocalBench(options: o) { self.stderr($0) }
        for path in paths {
            if Interruption.shared.isRequested { break }
            let m = try bench.run(path: path) { test in
                guard let llama, !Interruption.shared.isRequested else { return }
                self.stderr("  \(llama.flavor.rawValue) llama-bench \(test.name), \(test.threads) thread\(test.threads == 1 ? "" : "s")")
                do {
                    try llama.compare(model: path, test: &test)
                    if let l = test.llamaCpp {
                        self.stderr("  \(llama.flavor.rawValue): " + String(format: "%.2f ± %.2f t/s, ratio %.2f", l.meanTokensPerSecond, l.sdTokensPerSecond, l.ratio))
                    }
                } catch where Interruption.shared.isRequested {
                    return  // Ctrl-C reached llama-bench too
                }
            }
            result.models?.append(m)
        }
        result.interrupted = Interruption.shared.isRequested
        try writeResult(result)
        print(try BenchReport.render(result, format: format), terminator: "")
        if result.interrupted { throw ExitCode(130) }
    }

    /// A model file, or for a catalog id the cached synthetic file (written now when missing).
    func benchPath(_ name: String, context: Int) throws -> String {
        guard case .catalog(let id) = try ModelSpecResolver.withCatalog().spec(name) else { return try resolveModelPath(name) }
        guard let recipe = QuantRecipe.parse(quant) else {
            throw ValidationError("unknown quantization '\(quant)' (known: \(QuantRecipe.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let s = try ModelSynthesizer(model: id, recipe: recipe, layers: syntheticLayers, seed: 1)
        try SyntheticCache.checkFits(s, context: context)
        return try SyntheticCache().file(for: s) { self.stderr($0) }
    }

    func runLoadTest() async throws {
        guard let model else { throw ValidationError("--endpoint needs --model NAME (the model name the server expects)") }
        guard let api = LoadTestOptions.API(rawValue: api) else { throw ValidationError("--api is chat or completions") }
        guard ["md", "json", "csv"].contains(output) else { throw ValidationError("-o is md, json or csv for a load test") }
        var o = LoadTestOptions(endpoints: endpoint, model: model)
        o.api = api
        o.concurrency = try parseIntList(concurrency, option: "--concurrency", allowZero: false)
        o.rates = try rate.split(separator: ",").map { s -> Double? in
            if s == "inf" { return nil }
            guard let r = Double(s), r > 0, r.isFinite else { throw ValidationError("--rate: '\(s)' is not a positive number or inf") }
            return r
        }
        guard numPrompts >= 1 else { throw ValidationError("--num-prompts must be at least 1") }
        guard inputTokens >= 1, outputTokens >= 1 else { throw ValidationError("--input-tokens and --output-tokens must be at least 1") }
        o.numPrompts = numPrompts
        o.inputTokens = inputTokens
        o.outputTokens = outputTokens
        o.dataset = dataset
        o.apiKey = apiKey
        o.timeoutSeconds = timeout
        o.warmupRequests = max(0, warmup)
        o.ignoreEOS = dataset == nil && !noIgnoreEOS
        if let slo {
            for part in slo.split(separator: ",") {
                let kv = part.split(separator: ":")
                guard kv.count == 2, ["ttft", "tpot", "itl", "e2el"].contains(String(kv[0])), let v = Double(kv[1]), v > 0 else {
                    throw ValidationError("--slo: '\(part)' is not KEY:MILLISECONDS with KEY one of ttft, tpot, itl, e2el")
                }
                o.slo[String(kv[0])] = v
            }
        }
        let test = try LoadTest(options: o) { self.stderr($0) }
        Interruption.shared.install()
        var result = BenchResult(kind: .serving, host: ProcessMetrics.host(), command: commandLine())
        result.serving = try await test.run()
        result.interrupted = Interruption.shared.isRequested
        try writeResult(result)
        switch output {
        case "json": print(try BenchReport.json(result, pretty: true), terminator: "")
        case "csv": print(LoadTestReport.csv(result.serving!), terminator: "")
        default: print(LoadTestReport.markdown(result.serving!, interrupted: result.interrupted), terminator: "")
        }
        if result.interrupted { throw ExitCode(130) }
    }

    func runKernels() throws {
        let bench: KernelBench
        do {
            bench = try KernelBench(isaName: isa, typeNames: types.map { $0.split(separator: ",").map(String.init) })
        } catch let error as UnknownName {
            throw ValidationError(error.description)
        }
        let threadCounts = try threads.map {
            try $0.split(separator: ",").map { s in
                guard let n = Int(s), n > 0 else { throw ValidationError("bad thread count '\(s)'") }
                return n
            }
        } ?? KernelBench.defaultThreads
        for n in threadCounts { try CommonOptions.checkThreads(n) }
        if !json { print("isa \(bench.isaName), physical cores \(KernelBench.physicalCores)") }
        let results = try bench.run(threads: threadCounts, report: json ? { _ in } : { print($0) })
        if json { print(try JSONOutput.string(results)) }
    }
}
