import Compute
import Engine
import Foundation
import GGUF
import Models
import SeededRandom

/// One test of the table: prompt tokens, generated tokens and the depth the cache is filled to first.
public struct BenchTestSpec: Sendable, Equatable {
    public var nPrompt: Int
    public var nGen: Int
    public var depth: Int
    public var threads: Int

    public init(nPrompt: Int, nGen: Int, depth: Int, threads: Int) {
        self.nPrompt = nPrompt; self.nGen = nGen; self.depth = depth; self.threads = threads
    }

    /// llama-bench's test name: pp512, tg128, pp512+tg128, and " @ d4096" with a depth.
    public var name: String {
        var s = nGen == 0 ? "pp\(nPrompt)" : nPrompt == 0 ? "tg\(nGen)" : "pp\(nPrompt)+tg\(nGen)"
        if depth > 0 { s += " @ d\(depth)" }
        return s
    }
}

/// Options of the local benchmark, named as llama-bench's.
public struct LocalBenchOptions: Sendable {
    public var prompts = [512]
    public var gens = [128]
    public var promptGen: [(Int, Int)] = []
    public var depths = [0]
    public var threads = [Engine.defaultThreads]
    public var repetitions = 5
    public var cacheType = KVCacheType.f16
    public var warmup = true
    /// Measure cold and warm load times first.
    public var measureLoad = true
    public var seed: UInt64 = 1

    public init() {}

    /// The defaults with the KV cache type given by name (f16, f32); nil for another name.
    public init?(cacheTypeName: String) {
        guard let cacheType = KVCacheType(rawValue: cacheTypeName) else { return nil }
        self.cacheType = cacheType
    }

    /// One spec per combination, in llama-bench's order: threads, depth, then pp, tg, pg tests
    /// (a value 0 in -p or -n is skipped, as llama-bench does).
    public var specs: [BenchTestSpec] {
        var out: [BenchTestSpec] = []
        for t in threads {
            for d in depths {
                for p in prompts where p > 0 { out.append(BenchTestSpec(nPrompt: p, nGen: 0, depth: d, threads: t)) }
                for n in gens where n > 0 { out.append(BenchTestSpec(nPrompt: 0, nGen: n, depth: d, threads: t)) }
                for (p, n) in promptGen where p > 0 || n > 0 {
                    out.append(BenchTestSpec(nPrompt: p, nGen: n, depth: d, threads: t))
                }
            }
        }
        return out
    }
}

/// Thrown inside a measurement when Ctrl-C asked to stop.
struct Interrupted: Error {}

/// llama-bench's method on the built-in engine (tools/llama-bench/llama-bench.cpp, read not copied):
/// - tokens are random ids (the first token of each prompt pass and of each decode run is BOS when the
///   model adds one);
/// - one warm-up per test: a prompt pass of nPrompt tokens when nPrompt > 0, one decode step when nGen > 0;
/// - each repetition starts from an empty cache, fills it to `depth` untimed, then times the prompt as
///   one batched evaluation of nPrompt tokens and nGen single-token decode steps, each fed a random token;
/// - the rate of a repetition is (nPrompt + nGen) / seconds; the table shows the mean of those rates
///   ± their sample standard deviation.
/// llama-bench fills the depth once and restores a saved state before each repetition; here the cache is
/// filled once and cut back to `depth` (the same work per step; sliding-window rings may hold newer rows).
public final class LocalBench {
    public let options: LocalBenchOptions
    let progress: (String) -> Void
    let interruption: Interruption
    var rng: SplitMix64

    public init(options: LocalBenchOptions, interruption: Interruption = .shared, progress: @escaping (String) -> Void) {
        self.options = options
        self.progress = progress
        self.interruption = interruption
        rng = SplitMix64(seed: options.seed)
    }

    /// A random prompt token, from the seeded generator so runs repeat.
    func randomToken(below n: Int) -> Int32 { Int32(truncatingIfNeeded: rng.next() % UInt64(n)) }

    public static func identity(of file: GGUFFile) -> ModelIdentity {
        let params = file.tensors.reduce(0) { $0 + $1.elementCount }
        let fileType = file.int("general.file_type").map { ModelInspection.fileTypeName($0) }
        var perToken = file.tensors.reduce(0) { $0 + $1.byteSize }
        if file.tensors.contains(where: { $0.name == "output.weight" }),
           let embd = file.tensors.first(where: { $0.name == "token_embd.weight" }), embd.shape.count == 2, embd.shape[1] > 0 {
            perToken -= embd.byteSize - embd.byteSize / embd.shape[1]
        }
        return ModelIdentity(path: file.path, fileName: (file.path as NSString).lastPathComponent, fileSize: file.fileSize,
                             name: file.string("general.name"), architecture: file.architecture,
                             sizeLabel: file.string("general.size_label"), parameterCount: params, fileType: fileType,
                             weightBytesPerToken: perToken, synthetic: SyntheticMark(file: file))
    }

    /// Benchmarks one model file. `afterTest` runs after each of our tests (the llama.cpp comparison
    /// goes there, so the two alternate test by test); it may fill in `llamaCpp`.
    /// Stops early when interrupted, returning what was measured.
    public func run(path: String, afterTest: (inout BenchTest) throws -> Void = { _ in }) throws -> ModelBench {
        let canResetPeak = ProcessMetrics.resetPeakResident()
        let fileName = (path as NSString).lastPathComponent
        var load: LoadTimes?
        if options.measureLoad {
            progress("\(fileName): load (cold page cache)")
            let dropped = ProcessMetrics.dropFromPageCache(path: path)
            let cold = try timeLoad(path: path)
            progress("\(fileName): load (warm page cache)")
            let warm = try timeLoad(path: path)
            var note: String?
            if !dropped {
                note = "posix_fadvise(DONTNEED) is not available here: the cold figure is not cold"
            } else if let r = cold.residentFractionBefore, r > 0.05 {
                note = String(format: "%.0f%% of the file stayed in the page cache (another process maps it, or the kernel kept it)", r * 100)
            }
            load = LoadTimes(cold: cold, coldNote: note, warm: warm)
        }
        // Per-model peak: the largest of the load phase's and every test's (each resets VmHWM).
        var modelPeak = ProcessMetrics.peakResidentBytes()
        // Opened once for the identity and every test's model (the load timings open their own).
        let file = try GGUFFile(path: path)
        let identity = Self.identity(of: file)
        var bench = ModelBench(model: identity, load: load, tests: [])
        let bos = Self.beginningToken(file)
        let specs = options.specs
        var models: [Int: any LanguageModel] = [:]
        for (i, spec) in specs.enumerated() {
            if interruption.isRequested { break }
            let model: any LanguageModel
            if let m = models[spec.threads] {
                model = m
            } else {
                model = try ModelRegistry.load(file: file, pool: try ThreadPool(threads: spec.threads))
                models = [spec.threads: model]  // one pool at a time
            }
            progress("\(identity.fileName): test \(i + 1)/\(specs.count) \(spec.name), \(spec.threads) thread\(spec.threads == 1 ? "" : "s")")
            file.releaseHeaderPages()  // parsed already, as Engine(path:) does
            if canResetPeak { ProcessMetrics.resetPeakResident() }
            guard var test = try measure(spec, model: model, bos: bos) else { break }
            if canResetPeak {
                test.peakResidentBytes = ProcessMetrics.peakResidentBytes()
                modelPeak = [modelPeak, test.peakResidentBytes].compactMap { $0 }.max()
            }
            progress(String(format: "  %@: %.2f ± %.2f t/s", spec.name, test.meanTokensPerSecond, test.sdTokensPerSecond))
            try afterTest(&test)
            bench.tests.append(test)
        }
        bench.peakResidentBytes = canResetPeak ? modelPeak : ProcessMetrics.peakResidentBytes()
        return bench
    }

    /// The token a prompt starts with when the model adds BOS (llama.cpp: `tokenizer.ggml.add_bos_token`,
    /// default true for SentencePiece vocabularies).
    static func beginningToken(_ file: GGUFFile) -> Int32? {
        let addBOS = file.bool("tokenizer.ggml.add_bos_token") ?? (file.string("tokenizer.ggml.model") == "llama")
        guard addBOS, let id = file.int("tokenizer.ggml.bos_token_id") else { return nil }
        return Int32(id)
    }

    func timeLoad(path: String) throws -> LoadTiming {
        let resident = ProcessMetrics.residentFraction(path: path)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let file = try GGUFFile(path: path)
        let model = try ModelRegistry.load(file: file, pool: try ThreadPool(threads: options.threads.max() ?? 1))
        let t1 = DispatchTime.now().uptimeNanoseconds
        let runner = SequenceRunner(model: model, state: model.makeState(contextLength: 8, cacheType: options.cacheType))
        try runner.prefill([Self.beginningToken(file) ?? 0], allLogits: false)
        let t2 = DispatchTime.now().uptimeNanoseconds
        return LoadTiming(loadSeconds: Double(t1 - t0) / 1e9, firstForwardSeconds: Double(t2 - t1) / 1e9,
                          residentFractionBefore: resident)
    }

    func prompt(_ n: Int, runner: SequenceRunner, bos: Int32?) throws {
        guard n > 0 else { return }
        let vocab = runner.model.config.vocabSize
        var tokens = (0..<n).map { _ in randomToken(below: vocab) }
        if let bos { tokens[0] = bos }  // llama-bench: BOS first in every prompt pass
        try runner.prefill(tokens, allLogits: false)
    }

    func generate(_ n: Int, runner: SequenceRunner, bos: Int32?) throws {
        let vocab = runner.model.config.vocabSize
        var token = bos ?? randomToken(below: vocab)
        for _ in 0..<n {
            if interruption.isRequested { throw Interrupted() }
            try runner.step(token)
            token = randomToken(below: vocab)
        }
    }

    /// Runs one test; nil when interrupted before any repetition finished.
    func measure(_ spec: BenchTestSpec, model: any LanguageModel, bos: Int32?) throws -> BenchTest? {
        let context = spec.nPrompt + spec.nGen + spec.depth
        let runner = SequenceRunner(model: model, state: model.makeState(contextLength: max(context, 1), cacheType: options.cacheType))
        let state = runner.state
        var seconds: [Double] = []
        do {
            if options.warmup {
                try prompt(spec.nPrompt, runner: runner, bos: bos)
                if spec.nGen > 0 { try generate(1, runner: runner, bos: bos) }
            }
            var filled = false
            for r in 0..<options.repetitions {
                if interruption.isRequested { break }
                if spec.depth > 0 {
                    if filled {
                        state.truncate(to: spec.depth)
                    } else {
                        state.reset()
                        progress("  depth fill \(spec.depth) tokens")
                        try prompt(spec.depth, runner: runner, bos: bos)
                        filled = true
                    }
                } else {
                    state.reset()
                }
                let t0 = DispatchTime.now().uptimeNanoseconds
                try prompt(spec.nPrompt, runner: runner, bos: bos)
                try generate(spec.nGen, runner: runner, bos: bos)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                progress(String(format: "  repetition %d/%d: %.3f s", r + 1, options.repetitions, seconds.last!))
            }
        } catch is Interrupted {}
        guard !seconds.isEmpty else { return nil }
        let rates = seconds.map { Double(spec.nPrompt + spec.nGen) / $0 }
        return BenchTest(name: spec.name, nPrompt: spec.nPrompt, nGen: spec.nGen, depth: spec.depth, threads: spec.threads,
                         isa: ISA.preferred.rawValue, cacheType: options.cacheType.rawValue, contextLength: state.capacity,
                         kvCacheBytes: state.cache.bytes,
                         samplesSeconds: seconds, samplesTokensPerSecond: rates,
                         meanTokensPerSecond: Statistics.mean(rates), sdTokensPerSecond: Statistics.sampleStandardDeviation(rates))
    }
}
