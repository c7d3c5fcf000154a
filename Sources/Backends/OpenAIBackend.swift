import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOFoundationCompat
import OpenAIWire

/// Any OpenAI-compatible server (feather serve, llama.cpp server, vLLM, SGLang, Ollama).
/// Log-likelihoods come from `/v1/completions` with `echo` + `logprobs` + `max_tokens: 0`;
/// generations from `/v1/chat/completions` (chat input) or `/v1/completions` (text input).
/// Several endpoints share the requests round-robin.
public final class OpenAIBackend: Backend, @unchecked Sendable {
    public let endpoints: [String]
    public let model: String
    public let apiKey: String?
    /// Requests in flight per endpoint.
    public let concurrency: Int
    public let identity: BackendIdentity
    private let lock = NSLock()
    private var next = 0
    private let timeout: TimeAmount

    /// `endpoints` are base URLs such as `http://127.0.0.1:8080` or `http://host/v1`.
    public init(endpoints: [String], model: String, apiKey: String? = nil, concurrency: Int = 1, timeoutSeconds: Int64 = 600) {
        self.endpoints = endpoints.map { Self.normalize($0) }
        self.model = model
        self.apiKey = apiKey
        self.concurrency = max(1, concurrency)
        self.timeout = .seconds(timeoutSeconds)
        identity = BackendIdentity(kind: "openai", model: model, location: self.endpoints.joined(separator: ","))
    }

    /// The base URL with a trailing `/v1`.
    static func normalize(_ url: String) -> String {
        var u = url
        while u.hasSuffix("/") { u.removeLast() }
        if !u.hasSuffix("/v1") { u += "/v1" }
        return u
    }

    private func pickEndpoint() -> String {
        lock.lock(); defer { lock.unlock() }
        let e = endpoints[next % endpoints.count]
        next += 1
        return e
    }

    /// POSTs `body` to `path` and decodes the JSON answer.
    func post<T: Decodable>(_ path: String, _ body: some Encodable, as: T.Type, endpoint: String? = nil) async throws -> T {
        let base = endpoint ?? pickEndpoint()
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let data = try OpenAIJSON.requestEncoder().encode(body)
        request.body = .bytes(ByteBuffer(data: data))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw BackendError.unreachable(endpoint: base, detail: "\(error)")
        }
        let text = String(buffer: bytes)
        guard response.status.code == 200 else {
            throw BackendError.http(endpoint: base, status: Int(response.status.code), body: text)
        }
        do { return try JSONDecoder().decode(T.self, from: Data(buffer: bytes)) } catch {
            throw BackendError.badResponse(endpoint: base, detail: "\(error) in \(text.prefix(200))")
        }
    }

    /// `/v1/completions` with the prompt echoed and scored; returns the prompt's tokens, their
    /// logprobs (nil for the first) and character offsets.
    func echoLogprobs(_ prompt: String) async throws -> ScoredTokens {
        let base = pickEndpoint()
        var body = CompletionRequest(model: model, prompt: prompt)
        (body.maxTokens, body.echo, body.logprobs, body.temperature) = (0, true, 1, 0)
        let response: Completion
        do {
            response = try await post("/completions", body, as: Completion.self, endpoint: base)
        } catch BackendError.http(let e, let status, let text) where status >= 400 && status < 500 {
            throw BackendError.noPromptLogprobs(endpoint: e, detail: "HTTP \(status): \(text.prefix(200))")
        }
        guard let lp = response.choices.first?.logprobs, !lp.tokens.isEmpty, lp.tokenLogprobs.count == lp.tokens.count else {
            throw BackendError.noPromptLogprobs(endpoint: base, detail: "the answer to a max_tokens 0 + echo + logprobs request has no prompt token logprobs")
        }
        let tokens = lp.tokens
        // Without echo the server scores only generated tokens: with max_tokens 0 the tokens do not spell the prompt.
        let spelled = tokens.joined()
        guard spelled.unicodeScalars.count >= prompt.unicodeScalars.count - 1 || spelled.hasSuffix(String(prompt.suffix(8))) else {
            throw BackendError.noPromptLogprobs(endpoint: base, detail: "the returned tokens do not echo the prompt")
        }
        var offsets = lp.textOffset
        if offsets.count != tokens.count {
            // Offsets computed from the token texts (characters, as OpenAI counts them).
            offsets = []
            var o = 0
            for t in tokens { offsets.append(o); o += t.unicodeScalars.count }
            // A leading BOS text that is not part of the prompt shifts every offset.
            let shift = spelled.unicodeScalars.count - prompt.unicodeScalars.count
            if shift > 0 { offsets = offsets.map { $0 - shift } }
        }
        let tops = lp.topLogprobs.map { $0 ?? [:] }
        return ScoredTokens(tokens: tokens, logprobs: lp.tokenLogprobs, offsets: offsets, topLogprobs: tops.count == tokens.count ? tops : nil)
    }

    public func loglikelihoods(_ requests: [LoglikelihoodRequest]) async throws -> [LoglikelihoodResult] {
        try await concurrentMap(requests) { r in
            // lm-eval's pair split: the context's trailing spaces belong to the continuation.
            let trimmed = r.context.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            let continuation = String(r.context.dropFirst(trimmed.count)) + r.continuation
            guard !continuation.isEmpty else { throw BackendError.emptyContinuation }
            let scored = try await self.echoLogprobs(trimmed + continuation)
            let boundary = trimmed.unicodeScalars.count
            var total = 0.0, greedy = true, count = 0
            for i in scored.tokens.indices where scored.offsets[i] >= boundary {
                guard let lp = scored.logprobs[i] else { continue }
                total += lp
                count += 1
                if let top = scored.topLogprobs?[i], let best = top.values.max(), lp < best - 1e-6 { greedy = false }
            }
            guard count > 0 else {
                throw BackendError.badResponse(endpoint: self.identity.location, detail: "no scored token starts inside the continuation")
            }
            return LoglikelihoodResult(logprob: total, isGreedy: greedy, tokens: count)
        }
    }

    public func generate(_ requests: [GenerationRequestSpec]) async throws -> [String] {
        try await concurrentMap(requests) { r in
            // OpenAI accepts at most four stop sequences; the rest are applied here.
            let stop = r.stop.isEmpty ? nil : StopSequences(Array(r.stop.prefix(4)))
            let text: String
            switch r.input {
            case .chat(let messages):
                var body = ChatCompletionRequest(model: self.model, messages: messages.map { .init(role: $0.role, content: $0.content) })
                (body.maxTokens, body.temperature, body.stop) = (r.maxTokens, Float(r.temperature ?? 0), stop)
                if r.samples, let seed = r.seed { body.seed = Int64(clamping: seed) }
                let response = try await self.post("/chat/completions", body, as: ChatCompletion.self)
                text = response.choices.first?.message.content ?? ""
            case .text(let prompt):
                var body = CompletionRequest(model: self.model, prompt: prompt)
                (body.maxTokens, body.temperature, body.stop) = (r.maxTokens, Float(r.temperature ?? 0), stop)
                if r.samples, let seed = r.seed { body.seed = Int64(clamping: seed) }
                let response = try await self.post("/completions", body, as: Completion.self)
                text = response.choices.first?.text ?? ""
            }
            return StopMatcher.cut(text, at: r.stop)
        }
    }

    public func rollingLoglikelihood(_ text: String, window: Int) async throws -> RollingResult {
        let scored = try await echoLogprobs(text)
        var total = 0.0, count = 0
        for (i, lp) in scored.logprobs.enumerated() where scored.offsets[i] >= 0 {
            if let lp { total += lp; count += 1 }
        }
        return RollingResult(logprob: total, tokens: count)
    }

    /// Requests of one call run in order; the eval runner keeps `parallelism` calls in flight.
    func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ body: @Sendable (T) async throws -> R) async throws -> [R] {
        var out: [R] = []
        for item in items { out.append(try await body(item)) }
        return out
    }

    /// How many eval items may run at once against this backend.
    public var parallelism: Int { concurrency * endpoints.count }
}

/// A scored prompt: its tokens, their logprobs (nil for the first) and character offsets.
struct ScoredTokens {
    var tokens: [String]
    var logprobs: [Double?]
    var offsets: [Int]
    var topLogprobs: [[String: Double]]?
}
