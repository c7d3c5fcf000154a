import Engine
import Foundation
import Testing
@testable import Backends

/// `LocalModel`, the door of run, chat and perplexity, on the embedded SmolLM2: it answers as the engine does.
@Suite(.serialized) struct LocalModelTests {
    static let loaded: Result<Engine, any Error> = Result { try embeddedEngine("smollm2-135m") }
    static var present: Bool { embeddedModel("smollm2-135m") != nil }
    static let greedy = Sampling(temperature: 0, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1, seed: 0)

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models)")) func generateIsTheEnginesGeneration() throws {
        let engine = try Self.loaded.get()
        let local = LocalModel(engine: engine)
        let prompt = local.tokenize("The capital of France is")
        var streamed = ""
        let generation = try local.generate(prompt: prompt, maxTokens: 8, sampling: Self.greedy, topLogprobs: 2, promptLogprobs: true) {
            streamed += $0
        }
        let reference = try engine.generate(GenerationRequest(prompt: engine.tokenize("The capital of France is"), maxTokens: 8,
                                                              topLogprobs: 2, promptLogprobs: true))
        #expect(generation.result.tokens == reference.tokens)
        #expect(generation.result.promptLogprobs == reference.promptLogprobs)
        #expect(generation.text == reference.text)
        #expect(reference.text.hasPrefix(streamed))
        #expect(generation.speed.promptTokens == prompt.count)
        #expect(generation.speed.generatedTokens == 8)
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models)")) func generationEncodesAsTheEnginesResult() throws {
        let local = LocalModel(engine: try Self.loaded.get())
        let generation = try local.generate(prompt: local.tokenize("Hello"), maxTokens: 2, sampling: Self.greedy)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(generation) == encoder.encode(generation.result))
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models)")) func chatPromptIsTheTemplatedConversation() throws {
        let engine = try Self.loaded.get()
        let chat = try LocalModel(engine: engine).chat(system: "Be brief.", templateFile: nil)
        let expected = try ChatFormatter(engine: engine).tokens([ChatMessage(role: "system", content: "Be brief."),
                                                                 ChatMessage(role: "user", content: "Hi")])
        #expect(try chat.prompt(for: "Hi") == expected)
        #expect(chat.templateOrigin == "the model's own template")
    }

    @Test(.enabled(if: Needs.runs(present), "needs the embedded models (make models)")) func perplexityIsTheEnginesPerplexity() throws {
        let engine = try Self.loaded.get()
        let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 20)
        let local = try LocalModel(engine: engine).perplexity(text: text, contextLength: 64, maxChunks: 2)
        let reference = try engine.perplexity(text: text, contextLength: 64, maxChunks: 2)
        #expect(local.chunks == 2)
        #expect(local.perplexity == reference.perplexity)
        #expect(local.scoredTokens == reference.scoredTokens)
    }

    @Test func samplingNamesTheBadOption() {
        let bad = Sampling(temperature: 0.8, topK: 40, topP: 2, minP: 0.05, repetitionPenalty: 1, seed: 0)
        #expect(throws: EngineError.invalidSampling("--top-p must be greater than 0 and at most 1 (got 2.0)")) { try bad.validate() }
        #expect(throws: Never.self) { try Self.greedy.validate() }
    }
}
