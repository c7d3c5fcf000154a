import Foundation
import GGUF

/// How much `compare` measures: the quick default fits a few minutes on a small CPU; full runs whole datasets.
public struct MeasurementPlan: Codable, Sendable, Equatable {
    public var workload: String
    public var tasks: [String]
    /// Items per task (nil: the whole dataset), drawn with `seed`.
    public var itemLimit: [String: Int]
    public var seed: UInt64
    /// Benchmark: prompt tokens, generated tokens, repetitions, threads.
    public var promptTokens: Int
    public var generatedTokens: Int
    public var repetitions: Int
    public var threads: Int
    /// Catalog models measured on synthesized files (`--measure-synthetic`): recipe, blocks kept (nil: all), and the
    /// depths decode is measured at besides 0. Nil: catalog models are not measured.
    public var synthetic: SyntheticPlan?

    public struct SyntheticPlan: Codable, Sendable, Equatable {
        public var layers: Int?
        public var depths: [Int]
        public var seed: UInt64
        public init(layers: Int? = nil, depths: [Int] = [4096, 16384], seed: UInt64 = 1) {
            self.layers = layers
            self.depths = depths
            self.seed = seed
        }
    }

    public init(workload: String, tasks: [String], itemLimit: [String: Int], seed: UInt64, promptTokens: Int,
                generatedTokens: Int, repetitions: Int, threads: Int) {
        self.workload = workload
        self.tasks = tasks
        self.itemLimit = itemLimit
        self.seed = seed
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.repetitions = repetitions
        self.threads = threads
    }

    public static let quickTasks = ["mmlu", "wiki-bpb"]
    public static let fullTasks = ["mmlu", "gsm8k", "gpqa-diamond", "wiki-bpb"]

    public static func quick(tasks: [String]?, threads: Int) -> MeasurementPlan {
        MeasurementPlan(workload: "quick", tasks: tasks ?? quickTasks, itemLimit: ["mmlu": 200, "wiki-bpb": 16, "gsm8k": 20, "gpqa-diamond": 50],
                        seed: 1234, promptTokens: 128, generatedTokens: 32, repetitions: 3, threads: threads)
    }

    public static func full(tasks: [String]?, threads: Int) -> MeasurementPlan {
        MeasurementPlan(workload: "full", tasks: tasks ?? fullTasks, itemLimit: [:], seed: 1234, promptTokens: 512,
                        generatedTokens: 128, repetitions: 5, threads: threads)
    }

    public var description: String {
        let limits = tasks.map { t in itemLimit[t].map { "\(t) \($0) items" } ?? "\(t) all items" }.joined(separator: ", ")
        var s = "\(workload): \(limits); bench pp\(promptTokens) tg\(generatedTokens) × \(repetitions), \(threads) threads, seed \(seed)"
        if let p = synthetic {
            s += "; catalog models on synthetic weights (pp\(promptTokens), tg\(generatedTokens) at depth 0, "
                + p.depths.map(String.init).joined(separator: ", ") + (p.layers.map { "; first \($0) blocks only" } ?? "") + ")"
        }
        return s
    }
}

/// Runs the measured parts (speed, tasks) for one model; implemented over `feather bench` and `feather eval`.
public protocol ModelMeasurer: Sendable {
    func measureSpeed(_ model: ModelResult, plan: MeasurementPlan, progress: @escaping @Sendable (String) -> Void) async throws -> SpeedMeasurement
    func measureTask(_ task: String, model: ModelResult, plan: MeasurementPlan,
                     progress: @escaping @Sendable (String) -> Void) async throws -> TaskMeasurement
    /// KL divergence of `model` from `reference`, another quantization of the same model; nil when not measured.
    func measureKLDivergence(_ model: ModelResult, reference: ModelResult, plan: MeasurementPlan,
                             progress: @escaping @Sendable (String) -> Void) async throws -> KLDivergenceMeasurement?
}

extension ModelMeasurer {
    public func measureKLDivergence(_ model: ModelResult, reference: ModelResult, plan: MeasurementPlan,
                                    progress: @escaping @Sendable (String) -> Void) async throws -> KLDivergenceMeasurement? { nil }
}

/// `feather compare`: describe each model, fit it to each machine, measure what can be measured, and compare.
public struct CompareRunner: Sendable {
    public var resolver: ModelResolver
    public var hardware: [Hardware]
    public var quants: [QuantRecipe]
    public var context: Int
    public var kv: KVCacheElement
    public var alpha: Double
    public var plan: MeasurementPlan
    public var measurer: (any ModelMeasurer)?
    /// Why nothing is measured when `measurer` is nil.
    public var unmeasuredReason: String
    /// Where synthesized models are kept (`plan.synthetic`).
    public var syntheticCache = SyntheticCache()

    public init(resolver: ModelResolver = ModelResolver(), hardware: [Hardware], quants: [QuantRecipe], context: Int,
                kv: KVCacheElement, alpha: Double = 0.05, plan: MeasurementPlan, measurer: (any ModelMeasurer)?,
                unmeasuredReason: String) {
        self.resolver = resolver
        self.hardware = hardware
        self.quants = quants
        self.context = context
        self.kv = kv
        self.alpha = alpha
        self.plan = plan
        self.measurer = measurer
        self.unmeasuredReason = unmeasuredReason
    }

    /// Facts and fit rows only: instant, for every kind of model.
    public func describe(_ names: [String]) throws -> [ModelResult] {
        guard names.count >= 2 else { throw CompareError.tooFewModels }
        return try names.map { name in
            var m = try resolver.describe(name, quants: quants)
            m.fit = ModelResolver.fitRows(m, hardware: hardware, context: context, kv: kv)
            return m
        }
    }

    public func run(_ names: [String], command: [String], progress: @escaping @Sendable (String) -> Void) async throws -> ComparisonResult {
        var models = try describe(names)
        for i in models.indices {
            let label = "\(ComparisonResult.letter(i)) \(models[i].label)"
            if case .catalog(let id) = models[i].source, let synthetic = plan.synthetic, measurer != nil {
                do {
                    let s = try ModelSynthesizer(model: id, recipe: quants.first ?? .q4_k_m, layers: synthetic.layers, seed: synthetic.seed)
                    try SyntheticCache.checkFits(s, context: plan.promptTokens + plan.generatedTokens + (synthetic.depths.max() ?? 0))
                    let path = try syntheticCache.file(for: s) { progress("\(label): \($0)") }
                    models[i].syntheticFile = path
                    models[i].syntheticMark = SyntheticMark(file: try GGUFFile(path: path))
                } catch {
                    models[i].errors.append("synthetic weights: \(error)")
                    models[i].notMeasured.append("speed: \(error)")
                    models[i].notMeasured += plan.tasks.map { "task \($0): \(Comparison.needsWeights)" }
                    continue
                }
            }
            guard models[i].source.canRun || models[i].syntheticFile != nil else {
                models[i].notMeasured.append("speed and tasks: \(Comparison.needsWeights)")
                continue
            }
            guard let measurer else {
                models[i].notMeasured.append("speed: \(unmeasuredReason)")
                models[i].notMeasured += plan.tasks.map { "task \($0): \(unmeasuredReason)" }
                continue
            }
            progress("\(label): speed (\(plan.promptTokens)-token prompt, \(plan.generatedTokens) generated, × \(plan.repetitions))")
            do {
                models[i].speed = try await measurer.measureSpeed(models[i], plan: plan, progress: progress)
            } catch {
                models[i].errors.append("speed: \(error)")
                models[i].notMeasured.append("speed: failed: \(error)")
            }
            if models[i].synthetic != nil {
                models[i].notMeasured += plan.tasks.map { "task \($0): \(ModelSynthesizer.label)" }
                continue
            }
            for task in plan.tasks {
                progress("\(label): \(task)")
                do {
                    models[i].tasks.append(try await measurer.measureTask(task, model: models[i], plan: plan, progress: progress))
                } catch {
                    models[i].errors.append("task \(task): \(error)")
                    models[i].notMeasured.append("task \(task): failed: \(error)")
                }
            }
        }
        if let measurer, let reference = models.first {
            for i in models.indices.dropFirst() where models[i].synthetic == nil && reference.synthetic == nil {
                if let why = KLDivergenceMeasurement.incompatibility(reference, models[i]) {
                    if case .file = models[i].source, case .file = reference.source { models[i].notMeasured.append("KL divergence from A: \(why)") }
                    continue
                }
                progress("\(ComparisonResult.letter(i)) \(models[i].label): KL divergence from A")
                do {
                    models[i].klDivergence = try await measurer.measureKLDivergence(models[i], reference: reference, plan: plan, progress: progress)
                } catch {
                    models[i].errors.append("KL divergence: \(error)")
                    models[i].notMeasured.append("KL divergence from A: failed: \(error)")
                }
            }
        }
        let settings = CompareSettings(workload: plan.workload, tasks: plan.tasks, contextLength: context, kvType: kv,
                                       quant: quants.first?.displayName ?? "Q4_K_M", alpha: alpha,
                                       details: ["plan": plan.description])
        var notes: [String] = []
        for m in models { notes += m.errors.map { "\(m.label): \($0)" } }
        return Comparison.build(models: models, hardware: hardware, settings: settings, command: command, notes: notes)
    }
}
