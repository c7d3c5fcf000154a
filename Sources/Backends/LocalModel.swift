import Engine
import Foundation
import Tokenizers

/// How the next token is chosen, as `run` and `chat` take it (the engine's sampler parameters).
public struct Sampling: Sendable, Equatable {
    let parameters: SamplingParameters

    public init(temperature: Float, topK: Int, topP: Float, minP: Float, repetitionPenalty: Float, seed: UInt64) {
        parameters = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                        repetitionPenalty: repetitionPenalty, seed: seed)
    }

    /// Throws for values no sampler defines, naming the option as llama.cpp's CLI spells it.
    public func validate() throws { try parameters.validate() }
}

/// Token counts and seconds of the prompt pass and of the generation.
public struct GenerationSpeed: Sendable, Equatable {
    let timings: GenerationTimings

    public var promptTokens: Int { timings.promptTokens }
    public var promptSeconds: Double { timings.promptSeconds }
    public var promptTokensPerSecond: Double { timings.promptTokensPerSecond }
    public var generatedTokens: Int { timings.generatedTokens }
    public var generationSeconds: Double { timings.generationSeconds }
    public var generationTokensPerSecond: Double { timings.generationTokensPerSecond }
    /// Of the generation's seconds, those spent applying an output grammar (nil without one).
    public var constraintSeconds: Double? { timings.constraintSeconds }
}

/// One generation of `LocalModel.generate`; it encodes as the engine's result (`feather run --json`).
public struct LocalGeneration: Sendable, Encodable {
    let result: GenerationResult

    public var text: String { result.text }
    public var speed: GenerationSpeed { GenerationSpeed(timings: result.timings) }

    public func encode(to encoder: any Encoder) throws { try result.encode(to: encoder) }
}

/// One answer of a `LocalChat`.
public struct LocalChatReply: Sendable {
    let reply: ChatReply

    public var text: String { reply.text }
    /// Whether the model itself ended its turn with an end-of-generation token.
    public var endedTurn: Bool { reply.endedTurn }
    /// Whether `shouldStop` cut the answer short.
    public var interrupted: Bool { reply.interrupted }
    /// Whether the answer stopped at the token limit.
    public var reachedTokenLimit: Bool { reply.finishReason == .length }
    public var speed: GenerationSpeed { GenerationSpeed(timings: reply.timings) }
}

/// A conversation with a local model through its chat template (the engine's `ChatSession`).
public final class LocalChat {
    let session: ChatSession

    init(_ session: ChatSession) { self.session = session }

    /// Where the chat template came from, as the user is told.
    public var templateOrigin: String { session.formatter.origin.description }

    /// Forgets every turn but the system message.
    public func reset() { session.reset() }

    /// The prompt tokens of the history with `user` as the next message.
    public func prompt(for user: String) throws -> [TokenID] { try session.prompt(for: user) }

    /// Answers `user` (streamed through `onText`) and adds both to the history; `shouldStop` is checked before each token.
    public func respond(to user: String, maxTokens: Int, sampling: Sampling, shouldStop: () -> Bool = { false },
                        onText: (String) -> Void = { _ in }) throws -> LocalChatReply {
        LocalChatReply(reply: try session.respond(to: user, maxTokens: maxTokens, sampling: sampling.parameters,
                                                  shouldStop: shouldStop, onText: onText))
    }
}

/// Perplexity of a text, as llama-perplexity computes it.
public struct LocalPerplexity: Sendable {
    let result: PerplexityResult

    public var perplexity: Double { result.perplexity }
    public var chunks: Int { result.chunks }
    public var scoredTokens: Int { result.scoredTokens }
}

/// A model file in the built-in engine, for the commands that talk to one model directly
/// (`run`, `chat`, `perplexity`); `BackendFactory.localModel` builds it.
public final class LocalModel: Sendable {
    let engine: Engine

    init(engine: Engine) { self.engine = engine }

    /// The prompt's tokens, with BOS as the model's metadata says.
    public func tokenize(_ text: String) -> [TokenID] { engine.tokenize(text) }

    /// A conversation after `system`, through `templateFile` or else the model's chat template.
    public func chat(system: String?, templateFile: String?) throws -> LocalChat {
        LocalChat(ChatSession(engine: engine, formatter: try ChatFormatter(engine: engine, templateFile: templateFile), system: system))
    }

    /// Generates after `prompt`, each token's text streamed through `onText`. `topLogprobs`
    /// alternatives come with each token; `promptLogprobs` scores the prompt too.
    /// `output` constrains the text to JSON (see `OutputConstraint`).
    public func generate(prompt: [TokenID], maxTokens: Int, sampling: Sampling, topLogprobs: Int = 0, promptLogprobs: Bool = false,
                         output: OutputConstraint = .text, onText: (String) -> Void = { _ in }) throws -> LocalGeneration {
        var request = GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: sampling.parameters,
                                        topLogprobs: topLogprobs, promptLogprobs: promptLogprobs)
        switch output {
        case .text: break
        case .jsonObject: request.grammar = StructuredOutput.jsonObject()
        case .jsonSchema(let text): request.grammar = try StructuredOutput.jsonSchema(text: text)
        }
        return LocalGeneration(result: try engine.generate(request) { token in
            onText(token.text)
            return true
        })
    }

    /// llama-perplexity's method over `text` in chunks of `contextLength` tokens; `progress` hears each chunk's running perplexity.
    /// With `basePath`, llama-perplexity's KL-divergence base of this model on the text is written there.
    public func perplexity(text: String, contextLength: Int, maxChunks: Int?, basePath: String? = nil,
                           progress: (Int, Double) -> Void = { _, _ in }) throws -> LocalPerplexity {
        LocalPerplexity(result: try engine.perplexity(text: text, contextLength: contextLength, maxChunks: maxChunks,
                                                      basePath: basePath, progress: progress))
    }

    /// This model scored against the KL-divergence base at `basePath` (written by llama-perplexity or
    /// `perplexity(basePath:)`), on the base's tokens and context; a `text` given must tokenize to them.
    /// `progress` hears each chunk's running row.
    public func klDivergence(basePath: String, text: (name: String, content: String)? = nil,
                             progress: (KLDivergenceChunkRow) -> Void = { _ in }) throws -> KLDivergenceResult {
        try engine.klDivergence(base: KLDivergenceBase(path: basePath), text: text, progress: progress)
    }
}

/// What a local generation's text must be: free text, any JSON object, or JSON valid under a JSON
/// Schema (given as its JSON text).
public enum OutputConstraint: Sendable, Equatable {
    case text
    case jsonObject
    case jsonSchema(String)
}
