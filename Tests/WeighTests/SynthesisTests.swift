import Foundation
import GGUF
import Models
import Testing
@testable import Weigh

/// `feather synthesize CATALOG_ID`: published shapes with random weights (issue 26).
@Suite(.serialized) struct SynthesisTests {
    static let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fw-synth-\(getpid())").path
    static let dataDirectory = ProcessInfo.processInfo.environment["FEATHER_DATA"] ?? repoRoot.appendingPathComponent(".data").path
    static let sources = ModelSynthesizer.Sources(locator: ModelLocator(directory: modelsDirectory), dataDirectory: dataDirectory)
    static var tokenizersAtHand: Bool {
        FileManager.default.fileExists(atPath: "\(modelsDirectory)/gemma3-270m.gguf")
            && FileManager.default.fileExists(atPath: "\(modelsDirectory)/smollm2-135m.gguf")
            && FileManager.default.fileExists(atPath: "\(dataDirectory)/tekken_240911.json")
    }
    static let required = ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1"

    static func synthesize(_ id: String, layers: Int?, recipe: QuantRecipe = .q4_k_m, seed: UInt64 = 1) throws -> (ModelSynthesizer, String) {
        var s = try ModelSynthesizer(model: id, recipe: recipe, layers: layers, seed: seed)
        s.sources = sources
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let path = "\(tmp)/\(s.cacheName)"
        try s.write(to: path)
        return (s, path)
    }

    /// Every catalog id: the plan's tensors are the configuration's, each at the recipe's type, and the parameters
    /// (plus the checkpoint's padding rows and the vision tower, which the text GGUF does not carry) are the publisher's.
    @Test(arguments: ModelCatalog.ids) func planMatchesCatalogAndRecipe(id: String) throws {
        let f = try #require(ModelCatalog.find(id))
        for recipe in QuantRecipe.allCases {
            let s = try ModelSynthesizer(model: id, recipe: recipe)
            let expected = WeightEstimate.tensors(f)
            #expect(s.tensors.map(\.shape) == expected)
            #expect(s.tensors.map(\.type) == expected.map { recipe.type(for: $0, layers: f.layers) })
            // Fit's weight bytes are the file's tensor bytes.
            #expect(s.tensorBytes == WeightEstimate(facts: f, recipe: recipe).bytes, "\(id) \(recipe)")
        }
        let s = try ModelSynthesizer(model: id)
        let params = s.tensors.filter { $0.shape.name != "rope_freqs.weight" }.reduce(0) { $0 + $1.shape.elements }
        let padding = ((f.checkpointVocabSize ?? f.vocabSize) - f.vocabSize) * f.embeddingWidth
        #expect(params + padding + (f.visionParameters ?? 0) == f.publishedParameters, "\(id)")
        // Q4_K_M gives the seed pair's matrices K-quants: Q6_K on the output and the "more bits" attn_v / ffn_down.
        if id == "mistral-small-3.1-24b" || id == "gemma-3-27b" {
            let types = Dictionary(s.tensors.map { ($0.shape.name, $0.type) }, uniquingKeysWith: { a, _ in a })
            #expect(types[f.tiedEmbeddings ? "token_embd.weight" : "output.weight"] == .q6_K)
            #expect(types["blk.0.attn_v.weight"] == .q6_K && types["blk.0.ffn_down.weight"] == .q6_K)
            #expect(types["blk.0.attn_q.weight"] == .q4_K && types["blk.\(f.layers / 2 + 1).ffn_down.weight"] == .q4_K)
        }
    }

    @Test func badInput() {
        #expect(throws: SynthesisError.self) { try ModelSynthesizer(model: "gemma-3-28b") }
        #expect(throws: SynthesisError.badLayers(63, model: "gemma-3-27b", layers: 62)) { try ModelSynthesizer(model: "gemma-3-27b", layers: 63) }
        #expect(throws: SynthesisError.badLayers(0, model: "gemma-3-27b", layers: 62)) { try ModelSynthesizer(model: "gemma-3-27b", layers: 0) }
        // F16 27B does not fit this machine (fit's own figure), nor any machine under ~55 GB.
        let s = try? ModelSynthesizer(model: "gemma-3-27b", recipe: .f16)
        #expect(throws: SynthesisError.self) { try SyntheticCache.checkFits(s!, context: 4096, physicalMemory: 32 << 30) }
        #expect(throws: Never.self) { try SyntheticCache.checkFits(s!, context: 4096, physicalMemory: 64 << 30) }
    }

    /// The seed pair at one block: the file's tensors, types and metadata, read back; fit on the file agrees with the
    /// plan byte for byte; the real tokenizers.
    @Test(.enabled(if: tokenizersAtHand || required, "needs the embedded models (make models) and .data/tekken_240911.json (make data)"),
          arguments: ["mistral-small-3.1-24b", "gemma-3-27b"])
    func writtenFileIsThePlan(id: String) throws {
        let (s, path) = try Self.synthesize(id, layers: 1)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect(file.tensors.map(\.name) == s.tensorInfos.map(\.name))
        #expect(file.tensors.map(\.shape) == s.tensorInfos.map(\.shape))
        #expect(file.tensors.map(\.type) == s.tensorInfos.map(\.type))
        #expect(WeightsSummary(file: file).bytes == WeightEstimate(facts: s.facts, recipe: .q4_k_m).bytes)
        #expect(WeightsSummary(file: file).bytes == s.tensorBytes)
        let f = s.published, arch = f.architecture
        #expect(file.architecture == arch)
        #expect(file.int("\(arch).block_count") == 1 && file.int("general.synthetic.layers_of") == f.layers)
        #expect(file.int("\(arch).embedding_length") == f.embeddingWidth && file.int("\(arch).feed_forward_length") == f.ffnWidth)
        #expect(file.int("\(arch).attention.head_count") == f.heads && file.int("\(arch).attention.head_count_kv") == f.kvHeads)
        #expect(file.int("\(arch).attention.key_length") == f.headDim && file.int("\(arch).context_length") == f.contextLength)
        #expect(file.double("\(arch).rope.freq_base") == f.ropeBase)
        let mark = try #require(SyntheticMark(file: file))
        #expect(mark.source == id && mark.seed == 1 && mark.configuration == s.configurationHash)
        // The engine reads the same configuration.
        let c = try ModelConfig(gguf: file)
        #expect(c.headDim == f.headDim && c.layers == 1 && c.vocabSize == f.vocabSize && c.contextLength == f.contextLength)
        if arch == "gemma3" {
            #expect(c.slidingWindow == f.slidingWindow && c.ropeScalingDivisor == 8 && c.localRopeBase == 10_000)
            let real = try GGUFFile(path: "\(modelsDirectory)/gemma3-270m.gguf")
            #expect(file["tokenizer.ggml.tokens"] == real["tokenizer.ggml.tokens"])
            #expect(file["tokenizer.chat_template"] == real["tokenizer.chat_template"])
        } else {
            #expect(c.ropeBase == 1e9 && file.string("tokenizer.ggml.pre") == "tekken")
            #expect(file.array("tokenizer.ggml.tokens")?.count == 131_072 && file.array("tokenizer.ggml.merges")?.count == 269_443)
        }
        // Inspect, fit and bench label it.
        let inspection = ModelInspection(file: file)
        #expect(InspectionReport.rows(inspection).contains { $0.0 == "weights" && $0.1.contains(ModelSynthesizer.label) })
        #expect(try ModelFacts(file: file, id: id).notes.contains { $0.contains(ModelSynthesizer.label) })
        #expect(LocalBench.identity(of: file).synthetic == mark)
    }

    /// Every block of a whole small catalog model keeps activations finite, and the logits are finite.
    @Test(.enabled(if: tokenizersAtHand || required, "needs the embedded models (make models)"), arguments: ["gemma-3-270m", "smollm2-135m"])
    func wholeModelRunsFinite(id: String) throws {
        let (_, path) = try Self.synthesize(id, layers: nil, seed: 3)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try ModelRegistry.load(path: path, threads: 2)
        let state = model.makeState(contextLength: 64, cacheType: .f16)
        var rows = 0
        try model.evaluate((0..<40).map { Int32(300 + 97 * $0) }, state: state, allLogits: true) { _, logits in
            rows += 1
            let finite = logits.allSatisfy { $0.isFinite }
            let spread = (logits.max() ?? 0) - (logits.min() ?? 0)
            #expect(finite)
            // Random weights, not a constant: the distribution has spread.
            #expect(spread > 1)
        }
        #expect(rows == 40)
    }

    /// A write stopped part way (an error, or Ctrl-C) leaves nothing under the final name, and no .part on an error.
    @Test func interruptedWriteLeavesNoFile() throws {
        var s = try ModelSynthesizer(model: "smollm2-135m", layers: 2)
        s.sources = .init(locator: ModelLocator(directory: "/nonexistent"), dataDirectory: "/nonexistent")
        try FileManager.default.createDirectory(atPath: Self.tmp, withIntermediateDirectories: true)
        let path = "\(Self.tmp)/interrupted.gguf"
        struct Stop: Error {}
        var calls = 0
        #expect(throws: Stop.self) {
            try s.write(to: path, progress: { p in
                calls += 1
                if p.tensor >= 3 { throw Stop() }
            })
        }
        #expect(calls > 0)
        // Not enough disk: refused before anything is written.
        #expect(throws: SynthesisError.self) { try s.write(to: path, freeBytes: { _ in 10 << 20 }) }
        #expect(!FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + ".part"))
        #expect(!FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + ".part"))
        // Without a tokenizer at hand: placeholders of the right count, said so in the file.
        let tokenizer = try s.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(tokenizer.hasPrefix("placeholder"))
        let file = try GGUFFile(path: path)
        #expect(file.array("tokenizer.ggml.tokens")?.count == 49_152 && file.string("general.synthetic.tokenizer") == tokenizer)
    }

    /// The same seed gives the same bytes, chunk size aside; another seed others; a truncated file's blocks are the
    /// full file's.
    @Test func bytesFollowTheSeed() throws {
        func tensor(_ s: ModelSynthesizer, _ name: String) throws -> [UInt8] {
            var s = s
            s.sources = .init(locator: ModelLocator(directory: "/nonexistent"), dataDirectory: "/nonexistent")
            try FileManager.default.createDirectory(atPath: Self.tmp, withIntermediateDirectories: true)
            let path = "\(Self.tmp)/seed-\(UUID().uuidString).gguf"
            try s.write(to: path)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let file = try GGUFFile(path: path)
            let t = try #require(file.tensor(named: name))
            return Array(file.data(of: t))
        }
        let a = try tensor(ModelSynthesizer(model: "smollm2-135m", layers: 1, seed: 5), "blk.0.ffn_down.weight")
        let b = try tensor(ModelSynthesizer(model: "smollm2-135m", layers: 2, seed: 5), "blk.0.ffn_down.weight")
        let c = try tensor(ModelSynthesizer(model: "smollm2-135m", layers: 1, seed: 6), "blk.0.ffn_down.weight")
        #expect(a == b && a != c)
    }

    /// `compare --measure-synthetic`: a catalog model is synthesized (cached), measured for speed at depth 0 and at
    /// the plan's depths, load time and peak RSS, and every row from it is labelled; its quality rows stay empty.
    @Test func compareMeasuresCatalogModelsOnSyntheticWeights() async throws {
        let dir = "\(Self.tmp)/compare-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var plan = MeasurementPlan(workload: "test", tasks: ["mmlu"], itemLimit: ["mmlu": 4], seed: 7, promptTokens: 16,
                                   generatedTokens: 4, repetitions: 2, threads: 2)
        plan.synthetic = .init(layers: 2, depths: [32, 1_000_000])
        var runner = CompareRunner(hardware: [], quants: [.q4_k_m], context: 4096, kv: .f16, plan: plan,
                                   measurer: EngineMeasurer(outputDirectory: dir + "/eval"), unmeasuredReason: "unused")
        runner.syntheticCache = SyntheticCache(modelsDirectory: dir, sources: .init(locator: ModelLocator(directory: "/nonexistent"),
                                                                                   dataDirectory: "/nonexistent"))
        let r = try await runner.run(["smollm2-360m", "smollm2-1.7b"], command: ["test"]) { _ in }
        for m in r.models {
            #expect(m.errors.isEmpty, "\(m.errors)")
            #expect(m.synthetic?.source == m.label && m.synthetic?.layersOf != nil)
            let speed = try #require(m.speed)
            #expect(speed.prefillSamples.count == 2 && speed.decodeSamples.count == 2 && speed.loadSeconds != nil)
            // Depth 1,000,000 is beyond the context: measured only at 32.
            #expect(speed.decodeAtDepth?.map(\.depth) == [32] && speed.decodeAtDepth?.first?.samples.count == 2)
            #expect((speed.peakResidentBytes ?? 0) > 0 && (speed.kvCacheBytes ?? 0) > 0)
            #expect(m.tasks.isEmpty)
        }
        // One cached file per model under the models folder.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/synthetic")
        #expect(files.count == 2 && files.allSatisfy { $0.hasSuffix(".gguf") })
        let rows = r.sections.flatMap(\.rows)
        for id in ["speed.prefill", "speed.decode", "speed.decode.d32", "speed.load", "speed.peak_rss"] {
            let row = try #require(rows.first { $0.id == id }, "\(id)")
            #expect(row.cells.allSatisfy { $0.text.contains(ModelSynthesizer.label) }, "\(id)")
        }
        let quality = try #require(rows.first { $0.id == "task.mmlu" })
        #expect(quality.cells.allSatisfy { $0.value == nil && $0.missing == "task mmlu: \(ModelSynthesizer.label)" })
        #expect(r.verdicts.first { $0.use == "quality" }?.winner == nil)
    }

    /// Teacher-forced logits of the 2-block seed-pair files against llama.cpp on the same files
    /// (Tests/Fixtures/logits/seed-*.json, scripts/oracle/logits_fixtures.py): top-1 and KL over llama.cpp's top 64.
    @Test(.enabled(if: tokenizersAtHand || required, "needs the embedded models (make models) and .data/tekken_240911.json (make data)"),
          arguments: [("seed-mistral-small-3.1-24b-2L", "mistral-small-3.1-24b", UInt64(21)), ("seed-gemma-3-27b-2L", "gemma-3-27b", UInt64(22))])
    func twoBlockFilesMatchLlamaCpp(fixture: String, id: String, seed: UInt64) throws {
        struct Fixture: Decodable {
            struct Position: Decodable { let ids: [Int32]; let logprobs: [Double] }
            struct Prompt: Decodable { let tokens: [Int32]; let positions: [Position] }
            let prompts: [Prompt]
        }
        let fx = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/logits/\(fixture).json")))
        let (_, path) = try Self.synthesize(id, layers: 2, seed: seed)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try ModelRegistry.load(path: path, threads: 2)
        var positions = 0, top1 = 0, nearTies = 0
        var klSum = 0.0, klMax = 0.0
        for p in fx.prompts {
            try model.evaluate(p.tokens, state: model.makeState(contextLength: 128, cacheType: .f16), allLogits: true) { i, logits in
                let pos = p.positions[i]
                positions += 1
                var best = 0
                for j in 0..<logits.count where logits[j] > logits[best] { best = j }
                if Int32(best) == pos.ids[0] { top1 += 1 } else if pos.logprobs[0] - pos.logprobs[1] < 0.01 { nearTies += 1 }
                // KL(llama.cpp ‖ ours) over llama.cpp's top 64, both renormalized there.
                let pMax = pos.logprobs[0]
                let pNorm = log(pos.logprobs.reduce(0) { $0 + exp($1 - pMax) })
                let q = pos.ids.map { Double(logits[Int($0)]) }
                let qMax = q.max()!
                let qNorm = log(q.reduce(0) { $0 + exp($1 - qMax) })
                var kl = 0.0
                for k in pos.ids.indices {
                    let lp = pos.logprobs[k] - pMax - pNorm, lq = q[k] - qMax - qNorm
                    kl += exp(lp) * (lp - lq)
                }
                klSum += max(kl, 0)
                klMax = max(klMax, kl)
            }
        }
        let meanKL = klSum / Double(positions)
        print("seed shape \(fixture): top-1 \(top1)/\(positions) (\(nearTies) of the rest within 0.01 nats in llama.cpp), mean KL \(meanKL), max \(klMax)")
        #expect(positions > 30)
        #expect(top1 + nearTies == positions, "top-1 differs beyond near-ties")
        #expect(meanKL < 1e-4 && klMax < 1e-3)
    }
}
