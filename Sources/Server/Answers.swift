import Engine
import Foundation
import OpenAIWire
import Tokenizers

// How a generation's outcome, or each piece of its stream, is put in the API's response types.

/// A chat answer's bodies: the whole completion, or its stream's chunks.
struct ChatAnswer: Sendable {
    let id = APIServer.newID("chatcmpl-"), created = Int(Date().timeIntervalSince1970)
    let modelID: String
    let tokenizer: Tokenizer
    let logprobs: Bool
    let topLogprobs: Int
    /// Reads the reply's tool calls (nil: the reply is all content).
    let toolCalls: ToolCallParser?
    /// False: only the first call is kept.
    let parallelToolCalls: Bool

    init(model: ServedModel, logprobs: Bool, topLogprobs: Int, toolCalls: ToolCallParser? = nil, parallelToolCalls: Bool = true) {
        (modelID, tokenizer, self.logprobs, self.topLogprobs) = (model.id, model.engine.tokenizer, logprobs, topLogprobs)
        (self.toolCalls, self.parallelToolCalls) = (toolCalls, parallelToolCalls)
    }

    func completion(_ out: Outcome) -> ChatCompletion {
        var (content, calls) = toolCalls?.parse(out.text) ?? (out.text, [])
        if !parallelToolCalls { calls = Array(calls.prefix(1)) }
        let message = ChatCompletion.Message(content: content, toolCalls: calls.isEmpty ? nil : calls.map(Self.wire))
        return ChatCompletion(id: id, created: created, model: modelID,
                              choices: [.init(message: message, logprobs: tokenLogprobs(out.tokens),
                                              finishReason: calls.isEmpty ? out.finishReason : "tool_calls")],
                              usage: out.usage)
    }

    static func wire(_ call: ToolCall) -> ChatCompletionToolCall { ChatCompletionToolCall(id: call.id, name: call.name, arguments: call.arguments) }

    /// A stream's chunk maker: plain `chunk(for:)` without tools, else one that holds tool calls back.
    func streamChunker() -> ChatStreamChunker { ChatStreamChunker(answer: self) }

    func chunk(_ delta: ChatCompletionChunk.Delta, _ logprobs: ChatCompletionLogprobs? = nil, finish: String? = nil) -> ChatCompletionChunk {
        ChatCompletionChunk(id: id, created: created, model: modelID, choices: [.init(delta: delta, logprobs: logprobs, finishReason: finish)])
    }

    /// With logprobs asked for, every token gets a chunk, even one whose text is held back.
    func chunk(for piece: StreamPiece) -> ChatCompletionChunk? {
        switch piece {
        case .text(let text, let token):
            if text.isEmpty && !logprobs { return nil }
            return chunk(.init(content: text), token.flatMap { tokenLogprobs([$0]) })
        case .finish(let reason): return chunk(.init(), finish: reason)
        case .usage(let usage): return ChatCompletionChunk(id: id, created: created, model: modelID, choices: [], usage: usage)
        }
    }

    func tokenLogprobs(_ tokens: [GeneratedToken]) -> ChatCompletionLogprobs? {
        guard logprobs else { return nil }
        return ChatCompletionLogprobs(content: tokens.map { t in
            ChatCompletionTokenLogprob(token: tokenizer.piece(t.id), logprob: Double(t.logprob), bytes: tokenizer.pieceBytes(t.id),
                                       topLogprobs: t.topLogprobs.prefix(topLogprobs).map {
                                           .init(token: tokenizer.piece($0.id), logprob: Double($0.logprob), bytes: tokenizer.pieceBytes($0.id))
                                       })
        })
    }
}

/// Turns a chat stream's pieces into chunks, reading tool calls out of the text when the request
/// has tools: content goes out until a call starts; each call goes out when it is complete as two
/// deltas (its id, type and name; then its arguments), and the finish reason is "tool_calls".
final class ChatStreamChunker: @unchecked Sendable {
    let answer: ChatAnswer
    private let lock = NSLock()
    private var stream: ToolCallStream?
    private var callsSent = 0

    init(answer: ChatAnswer) {
        self.answer = answer
        stream = answer.toolCalls.map(ToolCallStream.init)
    }

    func chunks(for piece: StreamPiece) -> [ChatCompletionChunk] {
        lock.withLock {
            guard stream != nil else { return answer.chunk(for: piece).map { [$0] } ?? [] }
            switch piece {
            case .text(let text, let token):
                let (content, calls) = stream!.feed(text)
                var out: [ChatCompletionChunk] = []
                if !content.isEmpty || (answer.logprobs && token != nil) {
                    out.append(answer.chunk(.init(content: content), token.flatMap { answer.tokenLogprobs([$0]) }))
                }
                return out + callChunks(calls)
            case .finish(let reason):
                let (content, calls) = stream!.finish()
                var out: [ChatCompletionChunk] = []
                if !content.isEmpty { out.append(answer.chunk(.init(content: content))) }
                out += callChunks(calls)
                out.append(answer.chunk(.init(), finish: callsSent > 0 ? "tool_calls" : reason))
                return out
            case .usage:
                return answer.chunk(for: piece).map { [$0] } ?? []
            }
        }
    }

    /// Two deltas per call, indexed in the order the calls came; past the first only with parallel calls.
    private func callChunks(_ calls: [ToolCall]) -> [ChatCompletionChunk] {
        var out: [ChatCompletionChunk] = []
        for call in calls where answer.parallelToolCalls || callsSent == 0 {
            let i = callsSent
            callsSent += 1
            out.append(answer.chunk(.init(toolCalls: [.init(index: i, id: call.id, type: "function", function: .init(name: call.name, arguments: ""))])))
            out.append(answer.chunk(.init(toolCalls: [.init(index: i, function: .init(arguments: call.arguments))])))
        }
        return out
    }
}

/// A completions answer's bodies: the whole completion (one choice per prompt), or its stream's chunks.
struct CompletionAnswer: Sendable {
    let id = APIServer.newID("cmpl-"), created = Int(Date().timeIntervalSince1970)
    let modelID: String
    let tokenizer: Tokenizer
    /// How many alternatives each token's logprobs list (nil: no logprobs).
    let logprobs: Int?
    let echo: Bool

    init(model: ServedModel, logprobs: Int?, echo: Bool) {
        (modelID, tokenizer, self.logprobs, self.echo) = (model.id, model.engine.tokenizer, logprobs, echo)
    }

    func completion(_ inputs: [(tokens: [TokenID], text: String)], _ outcomes: [Outcome]) -> Completion {
        var choices: [Completion.Choice] = []
        var usage = CompletionUsage(promptTokens: 0, completionTokens: 0)
        for (i, (input, out)) in zip(inputs, outcomes).enumerated() {
            usage.promptTokens += out.promptTokens
            usage.completionTokens += out.tokens.count
            choices.append(.init(index: i, text: (echo ? input.text : "") + out.text,
                                 logprobs: logprobs.map { legacyLogprobs(input, out, k: $0) }, finishReason: out.finishReason))
        }
        return Completion(id: id, created: created, model: modelID, choices: choices, usage: usage)
    }

    func chunk(_ text: String, finish: String? = nil) -> Completion {
        Completion(id: id, created: created, model: modelID, choices: [.init(index: 0, text: text, finishReason: finish)])
    }

    func chunk(for piece: StreamPiece) -> Completion? {
        switch piece {
        case .text(let text, _): return text.isEmpty ? nil : chunk(text)
        case .finish(let reason): return chunk("", finish: reason)
        case .usage(let usage): return Completion(id: id, created: created, model: modelID, choices: [], usage: usage)
        }
    }

    /// The returned tokens' texts, logprobs, top-`k` maps and offsets (prompt tokens first with echo).
    func legacyLogprobs(_ input: (tokens: [TokenID], text: String), _ out: Outcome, k: Int) -> CompletionLogprobs {
        var l = CompletionLogprobs()
        var offset = echo ? 0 : input.text.unicodeScalars.count
        func add(_ id: TokenID, _ logprob: Float?, _ topMap: [String: Float]?) {
            let s = tokenizer.piece(id)
            l.tokens.append(s)
            l.tokenLogprobs.append(logprob.map(Double.init))
            l.topLogprobs.append(topMap?.mapValues(Double.init))
            l.textOffset.append(offset)
            offset += s.unicodeScalars.count
        }
        if echo {
            for (j, t) in input.tokens.enumerated() {
                if j == 0 { add(t, nil, nil); continue }
                let chosen = out.promptLogprobs[j] ?? TokenLogProb(id: t, logprob: 0)
                add(t, chosen.logprob, top(out.promptTop[j], chosen: chosen, k: k))
            }
        }
        for t in out.tokens { add(t.id, t.logprob, top(t.topLogprobs, chosen: TokenLogProb(id: t.id, logprob: t.logprob), k: k)) }
        // The end-of-generation token too, as OpenAI's completions list it (its text is not in the answer).
        if let e = out.endToken {
            add(e.id, e.logprob, top(e.topLogprobs, chosen: TokenLogProb(id: e.id, logprob: e.logprob), k: k))
        }
        return l
    }

    /// A token's top-`k` map in the legacy shape; the chosen token is always in it.
    func top(_ alternatives: [TokenLogProb], chosen: TokenLogProb, k: Int) -> [String: Float] {
        var d: [String: Float] = [:]
        for a in alternatives.prefix(k) { d[tokenizer.piece(a.id), default: a.logprob] = max(d[tokenizer.piece(a.id)] ?? -.infinity, a.logprob) }
        d[tokenizer.piece(chosen.id)] = chosen.logprob
        return d
    }
}
