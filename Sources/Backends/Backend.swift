import Engine
import Foundation

/// A log-likelihood request, as lm-evaluation-harness's `loglikelihood`: how likely is
/// `continuation` right after `context`?
public struct LoglikelihoodRequest: Sendable, Hashable, Codable {
    public var context: String
    public var continuation: String
    public init(context: String, continuation: String) {
        self.context = context
        self.continuation = continuation
    }
}

/// The answer to a log-likelihood request: the continuation's summed logprob and whether every
/// one of its tokens was the greedy (argmax) choice.
public struct LoglikelihoodResult: Sendable, Hashable, Codable {
    public var logprob: Double
    public var isGreedy: Bool
    /// Tokens the continuation took.
    public var tokens: Int
    public init(logprob: Double, isGreedy: Bool, tokens: Int) {
        self.logprob = logprob
        self.isGreedy = isGreedy
        self.tokens = tokens
    }
}

/// What a generation starts from: plain text to continue or a conversation to answer.
public enum GenerationInput: Sendable, Hashable, Codable {
    case text(String)
    case chat([ChatMessage])
}

/// A generation request: greedy (temperature 0), as lm-evaluation-harness's `generate_until`,
/// unless `temperature` says otherwise (MT-Bench answers sample at FastChat's per-category temperature).
public struct GenerationRequestSpec: Sendable, Hashable, Codable {
    public var input: GenerationInput
    public var stop: [String]
    public var maxTokens: Int
    /// nil or 0: greedy. Above 0: plain temperature sampling (no top-k, top-p or min-p cut), as an
    /// OpenAI endpoint given only `temperature`. Absent from the encoding when nil, so greedy requests
    /// keep their cache keys.
    public var temperature: Double?
    /// The sampling seed (sent as `seed` to an endpoint), for a sampled request.
    public var seed: UInt64?
    public init(input: GenerationInput, stop: [String] = [], maxTokens: Int = 256, temperature: Double? = nil, seed: UInt64? = nil) {
        self.input = input
        self.stop = stop
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.seed = seed
    }

    /// Whether the request samples (temperature above 0) rather than taking the argmax.
    public var samples: Bool { (temperature ?? 0) > 0 }
}

/// Who answers eval requests: the built-in engine or an OpenAI-compatible endpoint.
public protocol Backend: Sendable {
    /// A short description for results (model file or endpoint + model name).
    var identity: BackendIdentity { get }
    /// How many eval items may be in flight at once (1 for the local engine).
    var parallelism: Int { get }
    /// Log-likelihoods of several requests, in order. Requests that share a context (the choices
    /// of one question) are best given together.
    func loglikelihoods(_ requests: [LoglikelihoodRequest]) async throws -> [LoglikelihoodResult]
    /// Generations, in order (greedy unless a request sets a temperature); the text stops before the first stop sequence.
    func generate(_ requests: [GenerationRequestSpec]) async throws -> [String]
    /// Bytes of the text and its token log-likelihood, for bits per byte: the summed negative
    /// logprob (nats) of every token of each document after the first, and the token count scored.
    func rollingLoglikelihood(_ text: String, window: Int) async throws -> RollingResult
}

public struct RollingResult: Sendable, Hashable, Codable {
    /// Summed logprob of the scored tokens, nats.
    public var logprob: Double
    public var tokens: Int
    public init(logprob: Double, tokens: Int) {
        self.logprob = logprob
        self.tokens = tokens
    }
}

public struct BackendIdentity: Sendable, Hashable, Codable {
    public var kind: String
    public var model: String
    /// Model file path or endpoint URLs.
    public var location: String
    public var details: [String: String]
    public init(kind: String, model: String, location: String, details: [String: String] = [:]) {
        self.kind = kind
        self.model = model
        self.location = location
        self.details = details
    }
}

public enum BackendError: Error, CustomStringConvertible, Equatable {
    case noPromptLogprobs(endpoint: String, detail: String)
    case http(endpoint: String, status: Int, body: String)
    case badResponse(endpoint: String, detail: String)
    case contextTooLong(tokens: Int, limit: Int)
    case unreachable(endpoint: String, detail: String)
    case emptyContinuation
    case noWeights(model: String)

    public var description: String {
        switch self {
        case .noPromptLogprobs(let e, let d):
            "endpoint \(e) does not return prompt logprobs (completions with echo + logprobs), so log-likelihood tasks cannot run against it: \(d)"
        case .http(let e, let s, let b): "endpoint \(e) answered HTTP \(s): \(b.prefix(300))"
        case .badResponse(let e, let d): "endpoint \(e) gave an unexpected response: \(d)"
        case .contextTooLong(let t, let l): "a request has \(t) tokens, more than the context of \(l); use a larger --ctx"
        case .unreachable(let e, let d): "cannot reach endpoint \(e): \(d)"
        case .emptyContinuation: "a log-likelihood request has an empty continuation"
        case .noWeights(let m): "\(m) is a published configuration without weights: give a .gguf file or an endpoint to run it"
        }
    }
}
