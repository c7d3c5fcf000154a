import Foundation
import Tokenizers

/// One answer of a chat session.
public struct ChatReply: Sendable {
    public var text: String
    public var tokens: [TokenID]
    /// `.stop` when the model wrote an end-of-generation token (or the caller stopped it), `.length` at the token limit.
    public var finishReason: FinishReason
    /// Whether the model itself ended its turn with an end-of-generation token.
    public var endedTurn: Bool
    /// Whether `shouldStop` cut the answer short.
    public var interrupted: Bool
    public var timings: GenerationTimings
}

/// A conversation with a model: the history of turns, rendered with the chat template and prefilled
/// afresh each turn (so every turn sees exactly the tokens the template gives for the whole history).
public final class ChatSession {
    public let engine: Engine
    public let formatter: ChatFormatter
    public let system: String?
    public private(set) var messages: [ChatMessage] = []

    public init(engine: Engine, formatter: ChatFormatter, system: String? = nil) {
        self.engine = engine
        self.formatter = formatter
        self.system = system
        reset()
    }

    /// Forgets every turn but the system message.
    public func reset() {
        messages = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
    }

    /// The prompt tokens of the history with `user` as the next message.
    public func prompt(for user: String) throws -> [TokenID] { try formatter.tokens(adding(user)) }

    private func adding(_ user: String) -> [ChatMessage] { messages + [ChatMessage(role: "user", content: user)] }

    /// Adds the user's message, generates the answer (streamed through `onText`) and adds it to the
    /// history. `shouldStop` is checked before each token. On an error the history is left unchanged.
    public func respond(to user: String, maxTokens: Int = 512, sampling: SamplingParameters = .greedy,
                        shouldStop: () -> Bool = { false }, onText: (String) -> Void = { _ in }) throws -> ChatReply {
        let conversation = adding(user)
        let prompt = try formatter.tokens(conversation)
        let room = engine.contextLength - prompt.count
        guard room > 0 else { throw ChatSessionError.contextFull(promptTokens: prompt.count, context: engine.contextLength) }
        var interrupted = false
        let request = GenerationRequest(prompt: prompt, maxTokens: min(maxTokens, room), sampling: sampling)
        let result = try engine.generate(request) { token in
            onText(token.text)
            if shouldStop() { interrupted = true; return false }
            return true
        }
        let tokens = result.tokens.map(\.id)
        let endedTurn = !interrupted && result.finishReason == .stop
        messages = conversation + [ChatMessage(role: "assistant", content: result.text)]
        return ChatReply(text: result.text, tokens: tokens, finishReason: result.finishReason, endedTurn: endedTurn,
                         interrupted: interrupted, timings: result.timings)
    }
}

public enum ChatSessionError: Error, CustomStringConvertible, Equatable {
    case contextFull(promptTokens: Int, context: Int)
    public var description: String {
        switch self {
        case .contextFull(let p, let c): "the conversation (\(p) tokens) fills the context (\(c) tokens); /reset or use a larger --ctx"
        }
    }
}
