import Engine
import Foundation
import Hummingbird
import NIOCore
import OpenAIWire
import Templates
import Tokenizers

extension APIServer {
    /// Every route the server answers. Each API route counts its requests under a label
    /// (GET /metrics) and answers errors in OpenAI's shape; the generation routes, which wait
    /// under `whileConnected`, close their connection.
    func routes() -> RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.get("/health") { _, _ in Self.json(["status": "ok"]) }
        routes.get("/metrics", use: renderMetrics)
        api("models", in: routes).get("/v1/models", use: listModels)
        api("chat", in: routes, closesConnection: true).post("/v1/chat/completions", use: chatCompletion)
        api("completions", in: routes, closesConnection: true).post("/v1/completions", use: completion)
        api("embeddings", in: routes, closesConnection: true).post("/v1/embeddings", use: embeddings)
        api("tokenize", in: routes).post("/tokenize", use: tokenize)
        api("detokenize", in: routes).post("/detokenize", use: detokenize)
        api("tokenizer_info", in: routes).get("/tokenizer_info", use: tokenizerInfo)
        return routes
    }

    private func api(_ label: String, in routes: RouteCollection<BasicRequestContext>, closesConnection: Bool = false)
        -> RouterGroup<BasicRequestContext> {
        let group = routes.group().add(middleware: RequestMetricsMiddleware(label: label, metrics: metrics))
        if closesConnection { group.add(middleware: ConnectionCloseMiddleware()) }
        return group.add(middleware: APIErrorMiddleware(label: label, logger: logger))
    }

    // MARK: Handlers

    func renderMetrics(_ request: Request, context: BasicRequestContext) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                 body: .init(byteBuffer: ByteBuffer(string: metrics.render(models: models))))
    }

    func listModels(_ request: Request, context: BasicRequestContext) -> Response {
        let created = Int(Date().timeIntervalSince1970)
        return Self.json(ModelList(data: models.map { .init(id: $0.id, created: created, ownedBy: "featherweight") }))
    }

    func chatCompletion(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let started = Date()
        let (body, request) = try await decode(ChatCompletionRequest.self, request) { try ChatCompletionRequest.decode(body: $0) }
        let m = try model(body.model)
        try body.validate()
        let formatter = try chatFormatter(m)
        var parser: ToolCallParser? = nil
        if !(body.tools ?? []).isEmpty {
            guard formatter.takesTools else {
                throw APIError.badRequest("model '\(m.id)' cannot take 'tools': its chat template (\(formatter.origin)) does not use them",
                                          param: "tools")
            }
            if body.parsesToolCalls, let family = formatter.toolCallFamily { parser = ToolCallParser(family: family) }
        }
        // tool_choice "required" or a named function: the reply is held to one call of the family's shape.
        let grammar = try body.outputGrammar(toolFamily: parser?.family)
        let prompt = try await chatPrompt(body.chatMessages, tools: body.templateTools, for: m)
        let maxTokens = body.maxCompletionTokens ?? body.maxTokens ?? (m.engine.contextLength - prompt.count)
        guard maxTokens >= 1 else { throw APIError.badRequest("'max_tokens' must be at least 1", param: "max_tokens") }
        let answer = ChatAnswer(model: m, logprobs: body.logprobs == true, topLogprobs: body.topLogprobs ?? 0,
                                toolCalls: parser, parallelToolCalls: body.parallelToolCalls != false)
        var g = GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: try body.sampling(),
                                  topLogprobs: answer.logprobs ? max(answer.topLogprobs, 1) : 0)
        g.stopAtEndOfGeneration = body.ignoreEos != true
        g.grammar = grammar
        // Mistral's and Llama 3's call markers are control tokens, left out of text otherwise.
        g.renderSpecialTokens = parser.map { $0.family != .hermes } ?? false
        let generation = try submit(g, to: m, stops: body.stop?.values ?? [], started: started)
        guard body.stream == true else {
            let out = try await Self.whileConnected(request) { try await generation.collect() }
            return Self.json(answer.completion(out))
        }
        let chunker = answer.streamChunker()
        return generation.stream(answering: request, head: [answer.chunk(.init(role: "assistant", content: ""))],
                                 includeUsage: body.streamOptions?.includeUsage == true) { chunker.chunks(for: $0) }
    }

    func completion(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let started = Date()
        let (body, request) = try await decode(CompletionRequest.self, request)
        let m = try model(body.model)
        try body.validate(slots: m.scheduler.slots, queueLimit: m.scheduler.queueLimit)
        let sampling = try body.sampling()
        let maxTokens = body.maxTokens ?? 16
        let inputs = try promptInputs(body.prompt.items, for: m, maxTokens: maxTokens)
        let answer = CompletionAnswer(model: m, logprobs: body.logprobs, echo: body.echo ?? false)
        let generations = try inputs.map { input in
            var g = GenerationRequest(prompt: input.tokens, maxTokens: maxTokens, sampling: sampling,
                                      topLogprobs: answer.logprobs.map { max($0, 1) } ?? 0, promptLogprobs: answer.echo && answer.logprobs != nil)
            g.stopAtEndOfGeneration = body.ignoreEos != true
            return try submit(g, to: m, stops: body.stop?.values ?? [], started: started)
        }
        if body.stream == true {
            return generations[0].stream(answering: request, head: answer.echo ? [answer.chunk(inputs[0].text)] : [],
                                         includeUsage: body.streamOptions?.includeUsage == true) { answer.chunk(for: $0).map { [$0] } ?? [] }
        }
        // Every prompt runs at once in the scheduler; answers come back in order.
        let outcomes = try await Self.whileConnected(request) {
            try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
                for (i, g) in generations.enumerated() { group.addTask { (i, try await g.collect()) } }
                var all = [Outcome](repeating: Outcome(), count: generations.count)
                for try await (i, o) in group { all[i] = o }
                return all
            }
        }
        return Self.json(answer.completion(inputs, outcomes))
    }

    /// Mean-pooled, unit-length embeddings, as llama.cpp's server makes them with `--pooling mean`.
    func embeddings(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (body, request) = try await decode(EmbeddingRequest.self, request)
        let m = try model(body.model)
        let base64 = try body.validate()
        let inputs = try embeddingInputs(body.input.items, for: m)
        let vectors = try await Self.whileConnected(request) { try await m.embedder.embed(inputs) }
        let data = vectors.enumerated().map { EmbeddingResponse.Item(index: $0, embedding: EmbeddingVector($1, base64: base64)) }
        return Self.json(EmbeddingResponse(data: data, model: m.id, usage: .init(promptTokens: inputs.reduce(0) { $0 + $1.count })))
    }

    // POST /tokenize, /detokenize: llama.cpp server's shapes.

    func tokenize(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (body, _) = try await decode(TokenizeRequest.self, request)
        let m = try model(body.model)
        let tokenizer = m.engine.tokenizer
        let (text, addSpecial) = try body.validate()
        let ids = tokenizer.tokenize(text, addSpecial: addSpecial, parseSpecial: true)
        if body.content == nil {
            // vLLM's answer: the ids, their count and the context length.
            struct VLLMTokens: Encodable { var tokens: [TokenID]; var count: Int; var max_model_len: Int }
            return Self.json(VLLMTokens(tokens: ids, count: ids.count, max_model_len: m.engine.contextLength))
        }
        guard body.withPieces == true else { return Self.json(["tokens": ids]) }
        struct Piece: Encodable { var id: TokenID; var piece: String }
        struct Pieces: Encodable { var tokens: [Piece] }
        return Self.json(Pieces(tokens: ids.map { Piece(id: $0, piece: tokenizer.piece($0, special: true)) }))
    }

    func detokenize(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (body, _) = try await decode(DetokenizeRequest.self, request)
        let tokenizer = try model(body.model).engine.tokenizer
        if let bad = body.tokens.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
            throw APIError.badRequest("token id \(bad) is outside the vocabulary (\(tokenizer.vocabularySize) tokens)", param: "tokens")
        }
        let text = tokenizer.detokenize(body.tokens)
        // `content` as llama.cpp's server answers, `prompt` as vLLM's.
        return Self.json(["content": text, "prompt": text])
    }

    /// GET /tokenizer_info, vLLM's: the special tokens' texts and the context length. lm-eval's
    /// `local-completions` finds a remote tokenizer through it and then tokenizes with /tokenize.
    func tokenizerInfo(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let m = try model(request.uri.queryParameters.get("model"))
        let tokenizer = m.engine.tokenizer
        struct Info: Encodable {
            var model: String; var bos_token: String?; var eos_token: String?; var pad_token: String?
            var model_max_length: Int; var vocab_size: Int
        }
        return Self.json(Info(model: m.id, bos_token: tokenizer.bos.map { tokenizer.piece($0, special: true) },
                              eos_token: tokenizer.eos.map { tokenizer.piece($0, special: true) }, pad_token: nil,
                              model_max_length: m.engine.contextLength, vocab_size: tokenizer.vocabularySize))
    }

    // MARK: Handler steps

    func submit(_ request: GenerationRequest, to m: ServedModel, stops: [String], started: Date) throws -> Generation {
        Generation(events: try m.scheduler.submit(request), stops: stops, started: started, metrics: metrics)
    }

    /// The model's chat template; one that does not parse is the server's error.
    func chatFormatter(_ m: ServedModel) throws -> ChatFormatter {
        switch m.chat {
        case .success(let f): return f
        case .failure(let e): throw APIError(status: 500, message: e.description, type: "server_error")
        }
    }

    /// The conversation (and tools) through the model's chat template, refused when it leaves no room to answer.
    func chatPrompt(_ messages: [ChatMessage], tools: [Value]? = nil, for m: ServedModel) async throws -> [TokenID] {
        let formatter = try chatFormatter(m)
        let prompt: [TokenID]
        do { prompt = try await formatter.tokensOnOwnThread(messages, tools: tools) } catch {
            throw APIError.badRequest("\(error)", param: "messages")
        }
        let ctx = m.engine.contextLength
        if prompt.count >= ctx {
            throw APIError.badRequest("This model's maximum context length is \(ctx) tokens. However, your messages resulted in \(prompt.count) tokens.",
                                      param: "messages", code: "context_length_exceeded")
        }
        return prompt
    }

    /// Each embedding input's tokens (text with BOS as the model's metadata says, as llama.cpp's server
    /// tokenizes it), refused when empty, outside the vocabulary or longer than the context.
    func embeddingInputs(_ items: [PromptInput], for m: ServedModel) throws -> [[TokenID]] {
        let engine = m.engine, tokenizer = engine.tokenizer, ctx = engine.contextLength
        return try items.enumerated().map { i, item in
            let tokens: [TokenID]
            switch item {
            case .text(let s):
                guard !s.isEmpty else { throw APIError.badRequest("'input' must not contain an empty string (item \(i))", param: "input") }
                tokens = engine.tokenize(s)
            case .tokens(let t):
                if let bad = t.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
                    throw APIError.badRequest("token id \(bad) is outside the vocabulary (\(tokenizer.vocabularySize) tokens)", param: "input")
                }
                tokens = t
            }
            if tokens.isEmpty { throw APIError.badRequest("'input' must not contain an empty list of tokens (item \(i))", param: "input") }
            if tokens.count > ctx {
                throw APIError.badRequest("This model's maximum context length is \(ctx) tokens, however you requested \(tokens.count) tokens in the input (item \(i)).",
                                          param: "input", code: "context_length_exceeded")
            }
            return tokens
        }
    }

    /// Each prompt's tokens and text, refused when a token id is outside the vocabulary or the
    /// prompt leaves no room for `maxTokens`.
    func promptInputs(_ prompts: [PromptInput], for m: ServedModel, maxTokens: Int) throws -> [(tokens: [TokenID], text: String)] {
        let engine = m.engine, tokenizer = engine.tokenizer, ctx = engine.contextLength
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
        return inputs
    }
}
