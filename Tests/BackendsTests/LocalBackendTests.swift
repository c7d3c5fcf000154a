import Engine
import Foundation
import Models
import Testing
@testable import Backends

/// LocalBackend on the embedded SmolLM2: its batched log-likelihoods agree with the engine's
/// own prompt logprobs (scored one request at a time through `generate`).
@Suite(.serialized) struct LocalBackendTests {
    /// Loaded once for the suite; a missing model or a load error fails each test that needs it.
    static let loaded: Result<Engine, any Error> = Result { try embeddedEngine("smollm2-135m") }
    static var present: Bool { embeddedModel("smollm2-135m") != nil }

    /// Reference: the whole sequence through Engine.generate with prompt logprobs, the last `n` summed.
    static func reference(_ engine: Engine, _ tokens: [Int32], lastN n: Int) throws -> Double {
        var request = GenerationRequest(prompt: tokens, maxTokens: 0, promptLogprobs: true)
        request.stopAtEndOfGeneration = false
        let r = try engine.generate(request)
        return r.promptLogprobs.suffix(n).reduce(0) { $0 + Double($1!.logprob) }
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models) and .data (make data)")) func encodePairMovesTrailingSpaces() async throws {
        let engine = try Self.loaded.get()
        let backend = LocalBackend(engine: engine, modelPath: try #require(embeddedModel("smollm2-135m")))
        let (ctx, cont) = await backend.encodePair(context: "Answer: ", continuation: "A")
        let tk = { (s: String) in engine.tokenizer.tokenize(s, addSpecial: true, parseSpecial: false) }
        #expect(ctx == tk("Answer:"))
        #expect(cont == Array(tk("Answer: A").dropFirst(tk("Answer:").count)))
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models) and .data (make data)")) func sharedContextScoresMatchTheEngine() async throws {
        let engine = try Self.loaded.get()
        let backend = LocalBackend(engine: engine, modelPath: try #require(embeddedModel("smollm2-135m")))
        let context = "The capital of France is"
        let continuations = [" Paris", " a city in the north of the country", " London"]
        let requests = continuations.map { LoglikelihoodRequest(context: context, continuation: $0) }
        let got = try await backend.loglikelihoods(requests)
        for (i, c) in continuations.enumerated() {
            let (ctx, cont) = await backend.encodePair(context: context, continuation: c)
            let want = try Self.reference(engine, ctx + cont, lastN: cont.count)
            #expect(got[i].tokens == cont.count)
            // Same tokens; the shared pass splits them into two evaluations, so rounding may differ slightly.
            #expect(abs(got[i].logprob - want) < 2e-3, "\(c): \(got[i].logprob) vs \(want)")
        }
        #expect(got[0].logprob > got[2].logprob)
        // Requests in a different order give the same numbers.
        let reversed = try await backend.loglikelihoods(requests.reversed())
        #expect(reversed.reversed().map(\.logprob) == got.map(\.logprob))
    }

    /// A request with a temperature samples (MT-Bench answers): the same seed gives the same text, and the
    /// text is what the engine's sampler gives with plain temperature sampling; without one it is greedy.
    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models)")) func temperatureSamplesWithTheSeed() async throws {
        let engine = try Self.loaded.get()
        let backend = LocalBackend(engine: engine, modelPath: try #require(embeddedModel("smollm2-135m")))
        let prompt = "Once upon a time"
        let greedy = try await backend.generate([GenerationRequestSpec(input: .text(prompt), maxTokens: 12)])[0]
        let zero = try await backend.generate([GenerationRequestSpec(input: .text(prompt), maxTokens: 12, temperature: 0, seed: 5)])[0]
        #expect(zero == greedy)
        var sampled: [String] = []
        for seed: UInt64 in 1...4 {
            let r = GenerationRequestSpec(input: .text(prompt), maxTokens: 12, temperature: 1.5, seed: seed)
            let a = try await backend.generate([r])[0], b = try await backend.generate([r])[0]
            #expect(a == b, "seed \(seed)")
            var request = GenerationRequest(prompt: engine.tokenizer.tokenize(prompt, addSpecial: true, parseSpecial: false), maxTokens: 12,
                                            sampling: SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: seed))
            request.stopAtEndOfGeneration = true
            #expect(try engine.generate(request).text == a, "seed \(seed)")
            sampled.append(a)
        }
        // At temperature 1.5, four seeds do not all give the greedy text.
        #expect(sampled.contains { $0 != greedy }, "\(sampled) vs greedy \(greedy)")
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models) and .data (make data)")) func greedyFlagMatchesArgmax() async throws {
        let engine = try Self.loaded.get()
        let backend = LocalBackend(engine: engine, modelPath: try #require(embeddedModel("smollm2-135m")))
        let context = "1, 2, 3, 4, 5,"
        let greedy = try await backend.generate([GenerationRequestSpec(input: .text(context), maxTokens: 3)])[0]
        let r = try await backend.loglikelihoods([LoglikelihoodRequest(context: context, continuation: greedy),
                                                  LoglikelihoodRequest(context: context, continuation: " banana")])
        #expect(r[0].isGreedy)
        #expect(!r[1].isGreedy)
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models) and .data (make data)")) func rollingScoresEveryTokenOnce() async throws {
        let engine = try Self.loaded.get()
        let backend = LocalBackend(engine: engine, modelPath: try #require(embeddedModel("smollm2-135m")))
        let text = "Featherweight weighs small language models. It runs them on the CPU and reports what it measured."
        let tokens = engine.tokenizer.tokenize(text, addSpecial: false, parseSpecial: false)
        let prefix = engine.tokenizer.bos ?? engine.tokenizer.eos!
        let whole = try await backend.rollingLoglikelihood(text, window: 512)
        #expect(whole.tokens == tokens.count)
        let want = try Self.reference(engine, [prefix] + tokens, lastN: tokens.count)
        #expect(abs(whole.logprob - want) < 2e-3)
        // Small windows still score each token once; with less context the text is less likely.
        let windowed = try await backend.rollingLoglikelihood(text, window: 8)
        #expect(windowed.tokens == tokens.count)
        #expect(windowed.logprob < whole.logprob)
    }

    /// Generation through the scheduler (requests decoded together, joining and leaving the batch at
    /// different steps) gives the same text as one request at a time: SmolLM2 (Q4_1, Q8_0) and Gemma 3
    /// (Q4_K, Q6_K, Q5_0, Q8_0: batched rows computed as lone ones, BatchedDecodeTests).
    @Test(.enabled(if: Needs.runs(embeddedModel("smollm2-135m") != nil && embeddedModel("gemma3-270m") != nil), "needs the embedded models (make models) and .data (make data)"),
          arguments: ["smollm2-135m", "gemma3-270m"]) func batchedGenerationEqualsSequential(_ name: String) async throws {
        let path = try #require(embeddedModel(name), "\(name): run scripts/fetch-models.sh")
        let engine = try Engine(path: path, threads: 2, contextLength: 512)
        let prompts = ["Question: Tom has 3 apples and buys 5 more. How many apples does he have?\nAnswer:",
                       "The three primary colours are",
                       "def fibonacci(n):",
                       "Paris is the capital of",
                       "Question: What is 12 times 11?\nAnswer:",
                       "Once upon a time, in a small village by the sea,"]
        let specs = prompts.enumerated().map { i, p in
            GenerationRequestSpec(input: .text(p), stop: i % 2 == 0 ? ["Question:", "\n\n"] : [], maxTokens: 12 + 5 * i)
        }
        let sequential = LocalBackend(engine: engine, modelPath: path)
        var want: [String] = []
        for s in specs { want.append(try await sequential.generate([s])[0]) }
        let batched = LocalBackend(engine: engine, modelPath: path, batchSize: 4)
        #expect(batched.parallelism == 4)
        let got = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (i, s) in specs.enumerated() { group.addTask { (i, try await batched.generate([s])[0]) } }
            var out = Array(repeating: "", count: specs.count)
            for try await (i, text) in group { out[i] = text }
            return out
        }
        await batched.shutdown()
        #expect(got == want)
        #expect(want.contains { !$0.isEmpty })
    }
}
