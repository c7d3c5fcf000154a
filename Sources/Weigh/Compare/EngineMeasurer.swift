import Backends
import Foundation
import GGUF

/// The measured half of `feather compare`: speed with `feather bench`'s method (local files) or timed
/// streaming requests (endpoints), and tasks through `feather eval`'s runner, keeping every item so two
/// models can be paired.
public final class EngineMeasurer: ModelMeasurer, @unchecked Sendable {
    /// Where each model's eval results, samples and resume cache go (`<dir>/<letter>-<name>/`).
    public let outputDirectory: String
    public let dataDirectory: String?
    /// Context of the engine that scores tasks (wiki-bpb's rolling windows need 2048).
    public let contextLength: Int
    private let lock = NSLock()
    private var backends: [String: any Backend] = [:]

    public init(outputDirectory: String, dataDirectory: String? = nil, contextLength: Int = 4096) {
        self.outputDirectory = outputDirectory
        self.dataDirectory = dataDirectory
        self.contextLength = contextLength
    }

    // MARK: speed

    public func measureSpeed(_ model: ModelResult, plan: MeasurementPlan, progress: @escaping @Sendable (String) -> Void) async throws -> SpeedMeasurement {
        if let path = model.syntheticFile, let synthetic = plan.synthetic {
            return try measureSynthetic(path: path, plan: plan, synthetic: synthetic, progress: progress)
        }
        switch model.source {
        case .file(let path):
            var o = LocalBenchOptions()
            o.prompts = [plan.promptTokens]
            o.gens = [plan.generatedTokens]
            o.threads = [plan.threads]
            o.repetitions = plan.repetitions
            o.measureLoad = false
            let bench = try LocalBench(options: o, progress: { progress("  " + $0) }).run(path: path)
            guard let pp = bench.tests.first(where: { $0.nPrompt > 0 && $0.nGen == 0 }),
                  let tg = bench.tests.first(where: { $0.nGen > 0 && $0.nPrompt == 0 })
            else { throw CompareError.measurement("the benchmark was interrupted") }
            return SpeedMeasurement(hardware: "this-machine", threads: plan.threads, promptTokens: plan.promptTokens,
                                    generatedTokens: plan.generatedTokens, prefillSamples: pp.samplesTokensPerSecond,
                                    decodeSamples: tg.samplesTokensPerSecond,
                                    source: "feather bench (pp\(plan.promptTokens), tg\(plan.generatedTokens), \(pp.isa), schema \(BenchResult.currentSchemaVersion))")
        case .endpoint(let url, let name):
            var o = LoadTestOptions(endpoints: [url], model: name)
            o.api = .completions
            o.numPrompts = plan.repetitions
            o.inputTokens = plan.promptTokens
            o.outputTokens = plan.generatedTokens
            o.warmupRequests = 1
            o.seed = plan.seed
            let records = try await LoadTest(options: o, interruption: Interruption(), progress: { progress("  " + $0) }).sequential()
            var prefill: [Double] = [], decode: [Double] = []
            for r in records {
                guard r.ok, let ttft = r.ttft, ttft > 0, let tpot = r.tpot, tpot > 0 else {
                    throw CompareError.measurement("request to \(url) failed: \(r.errorKind ?? "no tokens") \(r.errorMessage ?? "")")
                }
                prefill.append(Double(r.usagePromptTokens ?? r.promptTokensEstimate) / ttft)
                decode.append(1 / tpot)
            }
            return SpeedMeasurement(hardware: url, threads: nil, promptTokens: plan.promptTokens, generatedTokens: plan.generatedTokens,
                                    prefillSamples: prefill, decodeSamples: decode,
                                    source: "streamed /v1/completions one at a time: prompt tokens / TTFT, 1 / TPOT (includes network and server queueing)")
        case .catalog:
            throw CompareError.measurement(Comparison.needsWeights)
        }
    }

    /// A synthesized catalog model: pp and tg at depth 0, tg at each of the plan's depths that the model's context
    /// holds, load time (warm), peak RSS and KV-cache bytes, with `feather bench`'s method.
    func measureSynthetic(path: String, plan: MeasurementPlan, synthetic: MeasurementPlan.SyntheticPlan,
                          progress: @escaping @Sendable (String) -> Void) throws -> SpeedMeasurement {
        let file = try GGUFFile(path: path)
        let context = file.architecture.flatMap { file.int("\($0).context_length") } ?? Int.max
        var o = LocalBenchOptions()
        o.prompts = [plan.promptTokens]
        o.gens = [plan.generatedTokens]
        o.threads = [plan.threads]
        o.repetitions = plan.repetitions
        o.measureLoad = true
        let bench = try LocalBench(options: o, progress: { progress("  " + $0) }).run(path: path)
        guard let pp = bench.tests.first(where: { $0.nPrompt > 0 && $0.nGen == 0 && $0.depth == 0 }),
              let tg = bench.tests.first(where: { $0.nGen > 0 && $0.nPrompt == 0 && $0.depth == 0 })
        else { throw CompareError.measurement("the benchmark was interrupted") }
        // Decode only at the depths (as llama-bench -p 0 -n 128 -d 4096,16384), those the model's context holds.
        var deep: [BenchTest] = []
        let depths = synthetic.depths.filter { $0 > 0 && $0 + plan.generatedTokens <= context }
        if !depths.isEmpty {
            o.prompts = [0]
            o.depths = depths
            o.measureLoad = false
            deep = try LocalBench(options: o, progress: { progress("  " + $0) }).run(path: path).tests
        }
        var m = SpeedMeasurement(hardware: "this-machine", threads: plan.threads, promptTokens: plan.promptTokens,
                                 generatedTokens: plan.generatedTokens, prefillSamples: pp.samplesTokensPerSecond,
                                 decodeSamples: tg.samplesTokensPerSecond,
                                 source: "feather bench on synthetic weights \((path as NSString).lastPathComponent) (\(pp.isa))")
        m.decodeAtDepth = deep.filter { $0.nGen > 0 && $0.nPrompt == 0 && $0.depth > 0 }
            .map { .init(depth: $0.depth, samples: $0.samplesTokensPerSecond, kvCacheBytes: $0.kvCacheBytes) }
        m.loadSeconds = bench.load.map { $0.warm.loadSeconds + $0.warm.firstForwardSeconds }
        m.peakResidentBytes = ([bench.peakResidentBytes] + (deep.isEmpty ? [] : [deep.compactMap(\.peakResidentBytes).max()])).compactMap { $0 }.max()
        m.kvCacheBytes = (bench.tests + deep).map(\.kvCacheBytes).max()
        return m
    }

    // MARK: KL divergence

    /// Chunks of 512 tokens of the Wikipedia sample: 4 in the quick plan (1020 positions), 16 in the full one.
    public func measureKLDivergence(_ model: ModelResult, reference: ModelResult, plan: MeasurementPlan,
                                    progress: @escaping @Sendable (String) -> Void) async throws -> KLDivergenceMeasurement? {
        guard case .file(let path) = model.source, case .file(let referencePath) = reference.source else { return nil }
        return try KLDivergenceMeasurement.measure(model: path, reference: (label: reference.label, path: referencePath),
                                                   textPath: Dataset.path("wiki.utf8", directory: dataDirectory), contextLength: 512,
                                                   chunks: plan.workload == "full" ? 16 : 4, threads: plan.threads, progress: progress)
    }

    // MARK: tasks

    func backend(for model: ModelResult, threads: Int) throws -> any Backend {
        let key: String
        switch model.source {
        case .file(let path): key = "file:\(path)"
        case .endpoint(let url, let name): key = "endpoint:\(url)#\(name)"
        case .catalog: throw CompareError.measurement(Comparison.needsWeights)
        }
        return try lock.withLock {
            if let b = backends[key] { return b }
            let b = try BackendFactory.backend(for: model.source, options: LocalModelOptions(threads: threads, contextLength: contextLength),
                                               apiKey: ProcessInfo.processInfo.environment["OPENAI_API_KEY"], concurrency: 4)
            backends[key] = b
            return b
        }
    }

    public func measureTask(_ task: String, model: ModelResult, plan: MeasurementPlan,
                            progress: @escaping @Sendable (String) -> Void) async throws -> TaskMeasurement {
        let loaded = try TaskCatalog.load(task)
        let backend = try backend(for: model, threads: plan.threads)
        let limit = plan.itemLimit[task]
        let settings = EvalSettings(tasks: [loaded.definition.name], sample: limit, seed: plan.seed, concurrency: backend.parallelism)
        var name = model.label
        if case .file(let path) = model.source { name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension }
        let safe = name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }
        let dir = (outputDirectory as NSString).appendingPathComponent(String(safe))
        let options = EvalOptions(settings: settings, outputDirectory: dir, dataDirectory: dataDirectory)
        let runner = try EvalRunner(backend: backend, options: options)
        try runner.validate([loaded])
        let (result, items) = try await runner.runWithItems(loaded)
        return try Self.measurement(result, items: items, definition: loaded.definition, settings: settings, source: backend.identity)
    }

    /// A task result as compare pairs it: right/wrong per item for accuracy, bits and bytes per
    /// document for bits per byte, the score per item otherwise.
    static func measurement(_ result: TaskResult, items: [ItemResult], definition: TaskDefinition, settings: EvalSettings,
                            source: BackendIdentity) throws -> TaskMeasurement {
        guard let metric = result.metrics.first(where: { $0.name == result.primaryMetric }) else {
            throw CompareError.measurement("task \(result.task) gave no \(result.primaryMetric)")
        }
        let kind: PairedMetricKind
        let outcomes: [ItemOutcome]
        switch definition.kind {
        case .multipleChoice, .generate:
            if definition.execution == nil {
                kind = .accuracy
                outcomes = items.map { ItemOutcome(id: $0.id, correct: $0.correct ?? false) }
            } else {
                kind = .score
                outcomes = items.map { ItemOutcome(id: $0.id, value: $0.metrics[result.primaryMetric] ?? 0) }
            }
        case .rolling:
            kind = .ratio
            outcomes = items.map { ItemOutcome(id: $0.id, value: -($0.metrics["logprob"] ?? 0) / log(2.0), weight: $0.metrics["bytes"] ?? 0) }
        case .judged:
            kind = .score
            outcomes = items.map { i in
                let s = [i.metrics["score_turn1"], i.metrics["score_turn2"]].compactMap { $0 }.filter { $0 >= 0 }
                return ItemOutcome(id: i.id, value: s.isEmpty ? 0 : s.reduce(0, +) / Double(s.count))
            }
        }
        var described = "\(result.n) of \(result.itemsAvailable) items"
        if let n = settings.sample, n < result.itemsAvailable { described += " (seeded sample, seed \(settings.seed))" }
        described += ", \(result.shots)-shot, task definition \(result.definitionHash.prefix(12))"
        return TaskMeasurement(task: result.task, metric: result.primaryMetric, value: metric.value, stderr: metric.stderr,
                               n: metric.n, higherIsBetter: metric.higherIsBetter, kind: kind, items: outcomes, settings: described,
                               source: "feather eval via \(source.kind) (\(result.cachedItems) items from the resume cache, \(String(format: "%.0f", result.wallSeconds)) s)")
    }
}
