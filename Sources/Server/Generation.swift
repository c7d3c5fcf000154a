import Engine
import Foundation
import Hummingbird
import NIOCore
import OpenAIWire

/// What one generation produced, after the stop sequences.
struct Outcome: Sendable {
    var text = ""
    var tokens: [GeneratedToken] = []
    var finishReason = "length"
    var promptTokens = 0
    var promptLogprobs: [TokenLogProb?] = []
    var promptTop: [[TokenLogProb]] = []
    /// The end-of-generation token that ended it, listed in completions logprobs only.
    var endToken: GeneratedToken?
    var usage: CompletionUsage { CompletionUsage(promptTokens: promptTokens, completionTokens: tokens.count) }
}

/// A piece of a streamed answer, for an API to put in its chunk type.
enum StreamPiece {
    /// Text safe to send, with the token it came after (nil for the text left at the end).
    case text(String, GeneratedToken?)
    case finish(reason: String)
    case usage(CompletionUsage)
}

/// One submitted generation, answered whole (`collect`) or as server-sent events (`stream`): the
/// one place its events are read, its stop sequences applied and its latencies measured.
struct Generation: Sendable {
    let events: AsyncThrowingStream<GenerationEvent, Error>
    let stops: [String]
    /// When the request arrived: the latency histograms count from here.
    let started: Date
    let metrics: Metrics

    /// Runs the generation to its end, cutting at the first stop sequence: `emit` gets the text safe
    /// to send after each token (with that token), then what is left at the end (without one).
    func run(_ emit: (String, GeneratedToken?) async throws -> Void) async throws -> Outcome {
        var out = Outcome()
        var matcher = StopMatcher(stops)
        loop: for try await event in events {
            switch event {
            case .prompt(let n, let logprobs, let top):
                (out.promptTokens, out.promptLogprobs, out.promptTop) = (n, logprobs, top)
            case .token(let t):
                if out.tokens.isEmpty { metrics.firstToken(after: Date().timeIntervalSince(started)) }
                out.tokens.append(t)
                try await emit(matcher.feed(t.text), t)
                if matcher.stopped { out.finishReason = "stop"; break loop }
            case .endOfGeneration(let t):
                out.endToken = t
            case .finished(let reason, let tail, _):
                let text = matcher.feed(tail) + matcher.flush()
                if !text.isEmpty { try await emit(text, nil) }
                out.finishReason = matcher.stopped || reason == .stop ? "stop" : "length"
            }
        }
        // A cancelled wait ends the stream early without an error: not an answer.
        try Task.checkCancellation()
        metrics.finished(after: Date().timeIntervalSince(started))
        return out
    }

    /// The whole answer.
    func collect() async throws -> Outcome {
        var text = ""
        var out = try await run { piece, _ in text += piece }
        out.text = text
        return out
    }

    /// The answer as server-sent events: `head`, a chunk per piece of text, the finishing chunk, the
    /// usage chunk when asked for, then `[DONE]`. `chunks` puts a piece in the API's chunk type (none:
    /// nothing to send for it; several: a finish that also sends held-back content or tool calls; it is
    /// called in order, one piece at a time). Generation stops when the client hangs up.
    func stream<Chunk: Encodable & Sendable>(answering request: Request, head: [Chunk], includeUsage: Bool,
                                             chunks: @escaping @Sendable (StreamPiece) -> [Chunk]) -> Response {
        Response(status: .ok, headers: APIServer.sseHeaders, body: ResponseBody { writer in
            func send(_ piece: StreamPiece) async throws {
                for c in chunks(piece) { try await writer.write(APIServer.sse(c)) }
            }
            for c in head { try await writer.write(APIServer.sse(c)) }
            try await APIServer.whileConnected(request) {
                let out = try await run { text, token in try await send(.text(text, token)) }
                try await send(.finish(reason: out.finishReason))
                if includeUsage { try await send(.usage(out.usage)) }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            }
            try await writer.finish(nil)
        })
    }
}
