import Engine
import Foundation
import Hummingbird
import Models
import NIOCore
import OpenAIWire
import Tokenizers

extension APIServer {
    /// What one generation produced, after the stop sequences.
    struct Outcome {
        var text = ""
        var tokens: [GeneratedToken] = []
        var finishReason = "length"
        var promptTokens = 0
        var promptLogprobs: [TokenLogProb?] = []
        var promptTop: [[TokenLogProb]] = []
    }

    static func sampling(temperature: Float?, topP: Float?, seed: Int64?) throws -> SamplingParameters {
        let t = temperature ?? 1, p = topP ?? 1
        guard (0...2).contains(t) else { throw APIError.badRequest("'temperature' must be between 0 and 2", param: "temperature") }
        guard p > 0 && p <= 1 else { throw APIError.badRequest("'top_p' must be greater than 0 and at most 1", param: "top_p") }
        // OpenAI semantics: only temperature and top-p shape the distribution.
        return SamplingParameters(temperature: t, topK: 0, topP: p, minP: 0,
                                  seed: seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max))
    }

    /// Runs a submitted generation to its end, cutting at the first stop sequence.
    func collect(_ stream: AsyncThrowingStream<GenerationEvent, Error>, stops: [String], started: Date) async throws -> Outcome {
        var out = Outcome()
        var matcher = StopMatcher(stops)
        loop: for try await event in stream {
            switch event {
            case .prompt(let n, let logprobs, let top):
                (out.promptTokens, out.promptLogprobs, out.promptTop) = (n, logprobs, top)
            case .token(let t):
                if out.tokens.isEmpty { metrics.firstToken(after: Date().timeIntervalSince(started)) }
                out.tokens.append(t)
                out.text += matcher.feed(t.text)
                if matcher.stopped { out.finishReason = "stop"; break loop }
            case .finished(let reason, let tail, _):
                out.text += matcher.feed(tail)
                out.text += matcher.flush()
                out.finishReason = matcher.stopped || reason == .stop ? "stop" : "length"
            }
        }
        // A cancelled wait ends the stream early without an error: not an answer.
        try Task.checkCancellation()
        metrics.finished(after: Date().timeIntervalSince(started))
        return out
    }

    /// Chat roles OpenAI's API accepts.
    static let roles = ["system", "developer", "user", "assistant", "tool", "function"]

    func submit(_ m: ServedModel, _ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, Error> {
        do { return try m.scheduler.submit(request) } catch { throw Self.apiError(error) }
    }

    // MARK: POST /v1/chat/completions

    func chatCompletion(_ request: Request) async throws -> Response {
        let started = Date()
        let (body, request) = try await decode(ChatCompletionRequest.self, request)
        let m = try model(body.model)
        if let n = body.n, n != 1 { throw APIError.badRequest("only n=1 is supported", param: "n") }
        guard !body.messages.isEmpty else { throw APIError.badRequest("'messages' must not be empty", param: "messages") }
        for (i, message) in body.messages.enumerated() where !Self.roles.contains(message.role) {
            throw APIError.badRequest("Invalid value: '\(message.role)'. Supported values are: \(Self.roles.map { "'\($0)'" }.joined(separator: ", ")).",
                                      param: "messages[\(i)].role", code: "invalid_value")
        }
        let messages = body.messages.map { ChatMessage(role: $0.role, content: $0.content?.text ?? "") }
        if let format = body.responseFormat {
            switch format.type {
            case "text": break
            case "json_object":
                // OpenAI's own rule: the conversation must ask for JSON.
                guard messages.contains(where: { $0.content.lowercased().contains("json") }) else {
                    throw APIError.badRequest("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                                              param: "messages")
                }
            default:
                throw APIError.badRequest("response_format type '\(format.type)' is not supported (text or json_object)", param: "response_format")
            }
        }
        let top = body.topLogprobs ?? 0
        guard (0...20).contains(top) else { throw APIError.badRequest("'top_logprobs' must be between 0 and 20", param: "top_logprobs") }
        if top > 0 && body.logprobs != true { throw APIError.badRequest("'top_logprobs' needs 'logprobs' set to true", param: "top_logprobs") }
        let formatter: ChatFormatter
        switch m.chat {
        case .success(let f): formatter = f
        case .failure(let e): throw APIError(status: 500, message: e.description, type: "server_error")
        }
        let prompt: [TokenID]
        do { prompt = try await formatter.tokensOnOwnThread(messages) } catch {
            throw APIError.badRequest("\(error)", param: "messages")
        }
        let ctx = m.engine.contextLength
        if prompt.count >= ctx {
            throw APIError.badRequest("This model's maximum context length is \(ctx) tokens. However, your messages resulted in \(prompt.count) tokens.",
                                      param: "messages", code: "context_length_exceeded")
        }
        let maxTokens = body.maxCompletionTokens ?? body.maxTokens ?? (ctx - prompt.count)
        guard maxTokens >= 1 else { throw APIError.badRequest("'max_tokens' must be at least 1", param: "max_tokens") }
        var g = GenerationRequest(prompt: prompt, maxTokens: maxTokens,
                                  sampling: try Self.sampling(temperature: body.temperature, topP: body.topP, seed: body.seed),
                                  topLogprobs: body.logprobs == true ? max(top, 1) : 0)
        g.stopAtEndOfGeneration = body.ignoreEos != true
        let wantLogprobs = body.logprobs == true
        let stops = body.stop?.values ?? []
        let stream = try submit(m, g)
        let id = Self.newID("chatcmpl-"), created = Int(Date().timeIntervalSince1970)
        let tokenizer = m.engine.tokenizer

        @Sendable func logprobs(_ tokens: [GeneratedToken]) -> ChatCompletionLogprobs? {
            guard wantLogprobs else { return nil }
            return ChatCompletionLogprobs(content: tokens.map { t in
                ChatCompletionTokenLogprob(token: tokenizer.piece(t.id), logprob: Double(t.logprob), bytes: tokenizer.pieceBytes(t.id),
                                           topLogprobs: t.topLogprobs.prefix(top).map {
                                               .init(token: tokenizer.piece($0.id), logprob: Double($0.logprob), bytes: tokenizer.pieceBytes($0.id))
                                           })
            })
        }

        guard body.stream == true else {
            let out = try await Self.whileConnected(request) { try await collect(stream, stops: stops, started: started) }
            return Self.json(ChatCompletion(
                id: id, created: created, model: m.id,
                choices: [.init(message: .init(content: out.text), logprobs: logprobs(out.tokens), finishReason: out.finishReason)],
                usage: CompletionUsage(promptTokens: out.promptTokens, completionTokens: out.tokens.count)))
        }
        let includeUsage = body.streamOptions?.includeUsage == true
        let metrics = self.metrics, modelID = m.id
        return Response(status: .ok, headers: Self.sseHeaders, body: ResponseBody { writer in
            func chunk(_ delta: ChatCompletionChunk.Delta, _ lp: ChatCompletionLogprobs? = nil, finish: String? = nil) -> ByteBuffer {
                Self.sse(ChatCompletionChunk(id: id, created: created, model: modelID,
                                             choices: [.init(delta: delta, logprobs: lp, finishReason: finish)]))
            }
            try await writer.write(chunk(.init(role: "assistant", content: "")))
            try await Self.whileConnected(request) {
                var matcher = StopMatcher(stops)
                var generated = 0, promptTokens = 0
                var finish = "length"
                loop: for try await event in stream {
                    switch event {
                    case .prompt(let n, _, _): promptTokens = n
                    case .token(let t):
                        if generated == 0 { metrics.firstToken(after: Date().timeIntervalSince(started)) }
                        generated += 1
                        let text = matcher.feed(t.text)
                        if !text.isEmpty || wantLogprobs { try await writer.write(chunk(.init(content: text), logprobs([t]))) }
                        if matcher.stopped { finish = "stop"; break loop }
                    case .finished(let reason, let tail, _):
                        let text = matcher.feed(tail) + matcher.flush()
                        if !text.isEmpty { try await writer.write(chunk(.init(content: text))) }
                        finish = matcher.stopped || reason == .stop ? "stop" : "length"
                    }
                }
                try Task.checkCancellation()
                metrics.finished(after: Date().timeIntervalSince(started))
                try await writer.write(chunk(.init(), finish: finish))
                if includeUsage {
                    try await writer.write(Self.sse(ChatCompletionChunk(id: id, created: created, model: modelID, choices: [],
                                                                        usage: CompletionUsage(promptTokens: promptTokens, completionTokens: generated))))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            }
            try await writer.finish(nil)
        })
    }

    // MARK: POST /v1/completions

    func completion(_ request: Request) async throws -> Response {
        let started = Date()
        let (body, request) = try await decode(CompletionRequest.self, request)
        let m = try model(body.model)
        if let n = body.n, n != 1 { throw APIError.badRequest("only n=1 is supported", param: "n") }
        let maxTokens = body.maxTokens ?? 16
        guard maxTokens >= 0 else { throw APIError.badRequest("'max_tokens' must be at least 0", param: "max_tokens") }
        let k = body.logprobs
        if let k, !(0...20).contains(k) { throw APIError.badRequest("'logprobs' must be between 0 and 20", param: "logprobs") }
        let echo = body.echo ?? false
        let prompts = body.prompt.items
        guard !prompts.isEmpty else { throw APIError.badRequest("'prompt' must not be empty", param: "prompt") }
        let capacity = m.scheduler.slots + m.scheduler.queueLimit
        if prompts.count > capacity {
            throw APIError.badRequest("this request has \(prompts.count) prompts; the server takes at most \(capacity) at once "
                                      + "(\(m.scheduler.slots) slots and a queue of \(m.scheduler.queueLimit))", param: "prompt")
        }
        if body.stream == true && prompts.count > 1 { throw APIError.badRequest("streaming takes one prompt", param: "prompt") }
        let engine = m.engine, tokenizer = engine.tokenizer, ctx = engine.contextLength
        let sampling = try Self.sampling(temperature: body.temperature, topP: body.topP, seed: body.seed)
        var inputs: [(tokens: [TokenID], text: String)] = []
        for p in prompts {
            switch p {
            case .text(let s): inputs.append((engine.tokenize(s), s))
            case .tokens(let t):
                if let bad = t.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
                    throw APIError.badRequest("token id \(bad) is outside the vocabulary (\(tokenizer.vocabularySize) tokens)", param: "prompt")
                }
                inputs.append((t, tokenizer.detokenize(t)))
            }
        }
        for input in inputs {
            if input.tokens.isEmpty { throw APIError.badRequest("the prompt has no tokens", param: "prompt") }
            if input.tokens.count > ctx || (input.tokens.count == ctx && maxTokens > 0) {
                throw APIError.badRequest("This model's maximum context length is \(ctx) tokens, however you requested \(input.tokens.count) tokens in the prompt.",
                                          param: "prompt", code: "context_length_exceeded")
            }
        }
        let streams = try inputs.map { input in
            var g = GenerationRequest(prompt: input.tokens, maxTokens: maxTokens, sampling: sampling,
                                      topLogprobs: k.map { max($0, 1) } ?? 0, promptLogprobs: echo && k != nil)
            g.stopAtEndOfGeneration = body.ignoreEos != true
            return try submit(m, g)
        }
        let stops = body.stop?.values ?? []
        let id = Self.newID("cmpl-"), created = Int(Date().timeIntervalSince1970)

        /// Token strings and top-k maps in the legacy shape; the chosen token is always in its map.
        func top(_ alternatives: [TokenLogProb], chosen: TokenLogProb, k: Int) -> [String: Float] {
            var d: [String: Float] = [:]
            for a in alternatives.prefix(k) { d[tokenizer.piece(a.id), default: a.logprob] = max(d[tokenizer.piece(a.id)] ?? -.infinity, a.logprob) }
            d[tokenizer.piece(chosen.id)] = chosen.logprob
            return d
        }

        if body.stream == true {
            let stream = streams[0], text = inputs[0].text, metrics = self.metrics, modelID = m.id
            let includeUsage = body.streamOptions?.includeUsage == true
            return Response(status: .ok, headers: Self.sseHeaders, body: ResponseBody { writer in
                func chunk(_ text: String, finish: String?) -> ByteBuffer {
                    Self.sse(Completion(id: id, created: created, model: modelID, choices: [.init(index: 0, text: text, finishReason: finish)]))
                }
                if echo { try await writer.write(chunk(text, finish: nil)) }
                try await Self.whileConnected(request) {
                    var matcher = StopMatcher(stops)
                    var generated = 0, promptTokens = 0
                    var finish = "length"
                    loop: for try await event in stream {
                        switch event {
                        case .prompt(let n, _, _): promptTokens = n
                        case .token(let t):
                            if generated == 0 { metrics.firstToken(after: Date().timeIntervalSince(started)) }
                            generated += 1
                            let piece = matcher.feed(t.text)
                            if !piece.isEmpty { try await writer.write(chunk(piece, finish: nil)) }
                            if matcher.stopped { finish = "stop"; break loop }
                        case .finished(let reason, let tail, _):
                            let piece = matcher.feed(tail) + matcher.flush()
                            if !piece.isEmpty { try await writer.write(chunk(piece, finish: nil)) }
                            finish = matcher.stopped || reason == .stop ? "stop" : "length"
                        }
                    }
                    try Task.checkCancellation()
                    metrics.finished(after: Date().timeIntervalSince(started))
                    try await writer.write(chunk("", finish: finish))
                    if includeUsage {
                        try await writer.write(Self.sse(Completion(id: id, created: created, model: modelID, choices: [],
                                                                   usage: CompletionUsage(promptTokens: promptTokens, completionTokens: generated))))
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                }
                try await writer.finish(nil)
            })
        }

        // Every prompt runs at once in the scheduler; answers come back in order.
        let outcomes = try await Self.whileConnected(request) {
            try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
                for (i, s) in streams.enumerated() { group.addTask { (i, try await self.collect(s, stops: stops, started: started)) } }
                var all = [Outcome](repeating: Outcome(), count: streams.count)
                for try await (i, o) in group { all[i] = o }
                return all
            }
        }
        var choices: [Completion.Choice] = []
        var usage = CompletionUsage(promptTokens: 0, completionTokens: 0)
        for (i, (input, out)) in zip(inputs, outcomes).enumerated() {
            usage.promptTokens += out.promptTokens
            usage.completionTokens += out.tokens.count
            var lp: CompletionLogprobs?
            if let k {
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
                lp = l
            }
            choices.append(.init(index: i, text: (echo ? input.text : "") + out.text, logprobs: lp, finishReason: out.finishReason))
        }
        return Self.json(Completion(id: id, created: created, model: m.id, choices: choices, usage: usage))
    }

    // MARK: POST /tokenize, /detokenize (llama.cpp server shapes)

    func tokenize(_ request: Request) async throws -> Response {
        let (body, _) = try await decode(TokenizeRequest.self, request)
        let tokenizer = try model(body.model).engine.tokenizer
        let ids = tokenizer.tokenize(body.content, addSpecial: body.addSpecial ?? false, parseSpecial: true)
        guard body.withPieces == true else { return Self.json(["tokens": ids]) }
        struct Piece: Encodable { var id: TokenID; var piece: String }
        struct Pieces: Encodable { var tokens: [Piece] }
        return Self.json(Pieces(tokens: ids.map { Piece(id: $0, piece: tokenizer.piece($0, special: true)) }))
    }

    func detokenize(_ request: Request) async throws -> Response {
        let (body, _) = try await decode(DetokenizeRequest.self, request)
        let tokenizer = try model(body.model).engine.tokenizer
        if let bad = body.tokens.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
            throw APIError.badRequest("token id \(bad) is outside the vocabulary (\(tokenizer.vocabularySize) tokens)", param: "tokens")
        }
        return Self.json(["content": tokenizer.detokenize(body.tokens)])
    }
}
