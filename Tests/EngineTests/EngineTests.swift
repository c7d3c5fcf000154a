import Engine
import Foundation
import GGUF
import Models
import Testing
import Tokenizers

struct EngineTests {
    func engine() throws -> Engine {
        var m = SyntheticModel(.llama)
        m.seed = 21
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-engine-\(UUID().uuidString).gguf").path
        try m.writer().write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Engine(path: path, threads: 2, contextLength: 64)
    }

    @Test func greedyGenerationIsReproducibleAndReportsLogprobs() throws {
        let e = try engine()
        var r = GenerationRequest(prompt: [2, 260, 261, 5], maxTokens: 10, topLogprobs: 3, promptLogprobs: true)
        r.stopAtEndOfGeneration = false
        let a = try e.generate(r), b = try e.generate(r)
        #expect(a.tokens.map(\.id) == b.tokens.map(\.id))
        #expect(a.tokens.count == 10 && a.finishReason == .length)
        for t in a.tokens {
            #expect(t.topLogprobs.count == 3)
            #expect(t.topLogprobs[0].id == t.id)  // greedy picks the most likely
            #expect(t.logprob <= 0 && abs(t.logprob - t.topLogprobs[0].logprob) < 1e-6)
        }
        #expect(a.promptLogprobs.count == 4 && a.promptLogprobs[0] == nil)
        #expect(a.promptLogprobs.dropFirst().allSatisfy { ($0?.logprob ?? 1) <= 0 })
    }

    @Test func streamYieldsTheSameTokens() async throws {
        let e = try engine()
        var r = GenerationRequest(prompt: [2, 262, 5], maxTokens: 6)
        r.stopAtEndOfGeneration = false
        var streamed: [Int32] = []
        for try await t in e.stream(r) { streamed.append(t.id) }
        #expect(streamed == (try e.generate(r)).tokens.map(\.id))
    }

    @Test func callbackCanStopEarly() throws {
        let e = try engine()
        var r = GenerationRequest(prompt: [2, 263], maxTokens: 20)
        r.stopAtEndOfGeneration = false
        var n = 0
        let result = try e.generate(r) { _ in n += 1; return n < 3 }
        #expect(result.tokens.count == 3 && result.finishReason == .stop)
    }

    @Test func longGenerationStopsAtTheContext() throws {
        let e = try engine()
        var r = GenerationRequest(prompt: [2, 263], maxTokens: 200)
        r.stopAtEndOfGeneration = false
        let result = try e.generate(r)
        #expect(result.tokens.count <= 63)
    }
}

struct PerplexityTests {
    @Test func scoresTheSecondHalfOfEachChunk() throws {
        var m = SyntheticModel(.llama)
        m.seed = 22
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-ppl-\(UUID().uuidString).gguf").path
        try m.writer().write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let e = try Engine(path: path, threads: 2, contextLength: 16)
        let text = String(repeating: "the model of a thing ", count: 20)
        let r = try e.perplexity(text: text, contextLength: 16, maxChunks: 3)
        #expect(r.chunks == 3)
        #expect(r.scoredTokens == 3 * 7)  // positions 8...14 predict 9...15
        #expect(r.perplexity > 1 && r.perplexity.isFinite)
        #expect(abs(r.running.last! - r.perplexity) < 1e-9)
    }
}
