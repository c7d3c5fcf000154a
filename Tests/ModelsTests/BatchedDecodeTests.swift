import Compute
import Foundation
import GGUF
import Models
import Testing

/// Batched decode (several sequences in one forward pass) gives each sequence exactly the logits it
/// gets when it runs alone: the weight products compute every row as a lone row is computed (for
/// the types whose llama.cpp order depends on the batch, repacked Q4_K from four rows and tiled Q6_K
/// from eight, each sequence's row is computed as llama.cpp's batch of one: MatmulPlan.llamaCppRowsAlone),
/// and attention runs per row over that row's own cache, so equality is bit-exact, not approximate.
struct BatchedDecodeTests {
    /// Prompts of different lengths, so the sequences sit at different positions in each step.
    static func prompts(vocab: Int, count: Int) -> [[Int32]] {
        (0..<count).map { i in (0..<(3 + 7 * i % 23)).map { j in Int32(4 + (i * 131 + j * 37) % (vocab - 4)) } }
    }

    /// Greedy decode of each prompt alone, then all together in batches; every step's logits must match.
    static func checkBatchedEqualsAlone(_ model: any LanguageModel, sequences: Int, steps: Int, context: Int,
                                        cacheTypes: [KVCacheType] = [.f16]) throws {
        let vocab = model.config.vocabSize
        let prompts = prompts(vocab: min(vocab, 4000), count: sequences)
        func cache(_ i: Int) -> KVCacheType { cacheTypes[i % cacheTypes.count] }
        // Alone: prompt, then one token at a time.
        var alone: [[[Float]]] = []
        var chosen: [[Int32]] = []
        for (i, p) in prompts.enumerated() {
            let s = model.makeState(contextLength: context, cacheType: cache(i))
            var logits: [[Float]] = []
            var next: Int32 = 0
            try model.evaluate(p, state: s, allLogits: false) { _, l in next = argmax(l) }
            var tokens: [Int32] = []
            for _ in 0..<steps {
                tokens.append(next)
                try model.evaluate([next], state: s, allLogits: false) { _, l in
                    logits.append(Array(l))
                    next = argmax(l)
                }
            }
            alone.append(logits)
            chosen.append(tokens)
        }
        // Together: the same prompts, then every step in one batched pass.
        let states = prompts.indices.map { model.makeState(contextLength: context, cacheType: cache($0)) }
        for (p, s) in zip(prompts, states) { try model.evaluate(p, state: s, allLogits: false) { _, _ in } }
        let workspace = model.makeWorkspace(rows: sequences, contextLength: context)
        for step in 0..<steps {
            var mismatches = 0
            try model.decode(chosen.map { $0[step] }, states: states, workspace: workspace) { i, l in
                if !l.elementsEqual(alone[i][step]) { mismatches += 1 }
            }
            #expect(mismatches == 0, "step \(step): \(mismatches) of \(sequences) sequences differ from running alone")
        }
    }

    static func argmax(_ l: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1..<l.count where l[i] > l[best] { best = i }
        return Int32(best)
    }

    static func synthetic(_ m: SyntheticModel) throws -> any LanguageModel {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-batch-\(m.architecture)-\(UUID().uuidString).gguf").path
        try m.writer().write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ModelRegistry.load(file: GGUFFile(path: path), pool: try ThreadPool(threads: 2))
    }

    @Test(arguments: SyntheticModel.Architecture.allCases)
    func syntheticBatchEqualsAlone(_ arch: SyntheticModel.Architecture) throws {
        var m = SyntheticModel(arch)
        m.seed = 11
        if arch == .mistral3 { m.headDim = 24 }
        // A window shorter than the prompts: the ring of the local layers wraps during decode.
        if arch == .gemma3 { m.layers = 6; m.slidingWindow = 8 }
        try Self.checkBatchedEqualsAlone(Self.synthetic(m), sequences: 6, steps: 12, context: 64, cacheTypes: [.f16, .f32])
    }

    @Test(arguments: ["smollm2-135m", "gemma3-270m"])
    func embeddedBatchEqualsAlone(_ name: String) throws {
        let path = try #require(embeddedModel(name), "\(name) is missing: run scripts/fetch-models.sh")
        let model = try ModelRegistry.load(path: path, threads: 2)
        // Gemma 3 Q4_K_M has Q4_K and Q6_K matrices, whose llama.cpp order depends on the batch:
        // batched decode computes each sequence's row as a batch of one (MatmulPlan.llamaCppRowsAlone), so it is
        // exact here too (it differed by up to ~2 in a logit before that).
        try Self.checkBatchedEqualsAlone(model, sequences: 5, steps: 4, context: 96)
    }

    @Test func batchOfOneEqualsEvaluate() throws {
        var m = SyntheticModel(.llama)
        m.seed = 4
        let model = try Self.synthetic(m)
        let a = model.makeState(contextLength: 32, cacheType: .f16), b = model.makeState(contextLength: 32, cacheType: .f16)
        try model.evaluate([2, 261, 200], state: a, allLogits: false) { _, _ in }
        try model.evaluate([2, 261, 200], state: b, allLogits: false) { _, _ in }
        var expected: [Float] = []
        try model.evaluate([5], state: a, allLogits: false) { _, l in expected = Array(l) }
        var got: [Float] = []
        try model.decode([5], states: [b], workspace: model.makeWorkspace(rows: 4, contextLength: 32)) { _, l in got = Array(l) }
        #expect(got == expected)
        #expect(a.count == 4 && b.count == 4)
    }

    @Test func fullSequenceInABatchIsATypedError() throws {
        var m = SyntheticModel(.llama)
        m.seed = 4
        let model = try Self.synthetic(m)
        let full = model.makeState(contextLength: 4, cacheType: .f16), other = model.makeState(contextLength: 4, cacheType: .f16)
        try model.evaluate([2, 5, 6, 7], state: full, allLogits: false) { _, _ in }
        try model.evaluate([2], state: other, allLogits: false) { _, _ in }
        #expect(throws: InferenceError.contextFull(position: 4, capacity: 4)) {
            try model.decode([8, 8], states: [other, full], workspace: model.makeWorkspace(rows: 2, contextLength: 4)) { _, _ in }
        }
        #expect(other.count == 1)  // checked before anything ran
    }
}
