import Foundation

// The OpenAI API's response bodies, named as the API names them. Keys are named here (CodingKeys)
// rather than by a key strategy, which would also rewrite the token texts that key the legacy
// `top_logprobs` maps. Decoding takes answers from any OpenAI-compatible server: what other
// servers leave out (ids, timestamps, usage, logprobs) becomes empty instead of an error.
// Log-probabilities are read as f64 (other servers send that precision) and written as f32, the
// precision Featherweight computes them in: the shortest text that reads back as the same f32.

extension KeyedDecodingContainer {
    /// The value, or `fallback` when the key is absent or null.
    func decode<T: Decodable>(_ key: Key, or fallback: T) throws -> T { try decodeIfPresent(T.self, forKey: key) ?? fallback }
}

public struct CompletionUsage: Codable, Sendable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = try c.decode(.promptTokens, or: 0)
        completionTokens = try c.decode(.completionTokens, or: 0)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
}

// MARK: Chat completions

/// A generated token's log-probability in a chat answer, with the most likely alternatives.
public struct ChatCompletionTokenLogprob: Codable, Sendable {
    public struct TopLogprob: Codable, Sendable {
        public var token: String
        public var logprob: Double
        public var bytes: [UInt8]
        public init(token: String, logprob: Double, bytes: [UInt8]) {
            (self.token, self.logprob, self.bytes) = (token, logprob, bytes)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(token, forKey: .token)
            try c.encode(Float(logprob), forKey: .logprob)
            try c.encode(bytes, forKey: .bytes)
        }
    }
    public var token: String
    public var logprob: Double
    public var bytes: [UInt8]
    public var topLogprobs: [TopLogprob]
    enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }

    public init(token: String, logprob: Double, bytes: [UInt8], topLogprobs: [TopLogprob]) {
        (self.token, self.logprob, self.bytes, self.topLogprobs) = (token, logprob, bytes, topLogprobs)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(token, forKey: .token)
        try c.encode(Float(logprob), forKey: .logprob)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(topLogprobs, forKey: .topLogprobs)
    }
}

/// A chat choice's `logprobs`: one entry per generated token.
public struct ChatCompletionLogprobs: Codable, Sendable {
    public var content: [ChatCompletionTokenLogprob]
    public init(content: [ChatCompletionTokenLogprob]) { self.content = content }
    public init(from decoder: any Decoder) throws {
        content = try decoder.container(keyedBy: CodingKeys.self).decode(.content, or: [])
    }
}

/// A tool call in an answer: `{id, type: "function", function: {name, arguments}}`, arguments as JSON text.
public struct ChatCompletionToolCall: Codable, Sendable, Equatable {
    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        public var arguments: String
        public init(name: String, arguments: String) { (self.name, self.arguments) = (name, arguments) }
    }
    public var id: String
    public var type: String
    public var function: Function
    public init(id: String, name: String, arguments: String) {
        (self.id, self.type, self.function) = (id, "function", Function(name: name, arguments: arguments))
    }
}

/// A streamed piece of a tool call: the first names it (`id`, `type`, `function.name`), later
/// ones add to `function.arguments`; `index` says which call.
public struct ChatCompletionToolCallDelta: Codable, Sendable, Equatable {
    public struct Function: Codable, Sendable, Equatable {
        public var name: String?
        public var arguments: String?
        public init(name: String? = nil, arguments: String? = nil) { (self.name, self.arguments) = (name, arguments) }
    }
    public var index: Int
    public var id: String?
    public var type: String?
    public var function: Function?
    public init(index: Int, id: String? = nil, type: String? = nil, function: Function? = nil) {
        (self.index, self.id, self.type, self.function) = (index, id, type, function)
    }
}

public struct ChatCompletion: Codable, Sendable {
    public struct Message: Codable, Sendable {
        public var role: String
        /// Sent as null when the answer is only tool calls.
        public var content: String
        public var toolCalls: [ChatCompletionToolCall]?
        enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls" }
        public init(role: String = "assistant", content: String, toolCalls: [ChatCompletionToolCall]? = nil) {
            (self.role, self.content, self.toolCalls) = (role, content, toolCalls)
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(.role, or: "assistant")
            content = try c.decode(.content, or: "")
            toolCalls = try c.decodeIfPresent([ChatCompletionToolCall].self, forKey: .toolCalls)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(role, forKey: .role)
            if content.isEmpty && !(toolCalls ?? []).isEmpty { try c.encodeNil(forKey: .content) } else { try c.encode(content, forKey: .content) }
            if let toolCalls, !toolCalls.isEmpty { try c.encode(toolCalls, forKey: .toolCalls) }
        }
    }
    public struct Choice: Codable, Sendable {
        public var index: Int
        public var message: Message
        public var logprobs: ChatCompletionLogprobs?
        public var finishReason: String
        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
        public init(index: Int = 0, message: Message, logprobs: ChatCompletionLogprobs?, finishReason: String) {
            (self.index, self.message, self.logprobs, self.finishReason) = (index, message, logprobs, finishReason)
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decode(.index, or: 0)
            message = try c.decode(Message.self, forKey: .message)
            logprobs = try c.decodeIfPresent(ChatCompletionLogprobs.self, forKey: .logprobs)
            finishReason = try c.decode(.finishReason, or: "")
        }
    }
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: CompletionUsage

    public init(id: String, created: Int, model: String, choices: [Choice], usage: CompletionUsage) {
        (self.id, self.object, self.created, self.model, self.choices, self.usage) = (id, "chat.completion", created, model, choices, usage)
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(.id, or: "")
        object = try c.decode(.object, or: "chat.completion")
        created = try c.decode(.created, or: 0)
        model = try c.decode(.model, or: "")
        choices = try c.decode(.choices, or: [])
        usage = try c.decode(.usage, or: CompletionUsage(promptTokens: 0, completionTokens: 0))
    }
}

/// One server-sent event of a streamed chat answer.
public struct ChatCompletionChunk: Codable, Sendable {
    public struct Delta: Codable, Sendable {
        public var role: String?
        public var content: String?
        /// Thinking text, apart from the answer (llama.cpp's and vLLM's extension; never sent here).
        public var reasoningContent: String?
        public var toolCalls: [ChatCompletionToolCallDelta]?
        enum CodingKeys: String, CodingKey { case role, content, reasoningContent = "reasoning_content", toolCalls = "tool_calls" }
        public init(role: String? = nil, content: String? = nil, toolCalls: [ChatCompletionToolCallDelta]? = nil) {
            (self.role, self.content, self.toolCalls) = (role, content, toolCalls)
        }
    }
    public struct Choice: Codable, Sendable {
        public var index: Int
        public var delta: Delta
        public var logprobs: ChatCompletionLogprobs?
        public var finishReason: String?
        enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }
        public init(index: Int = 0, delta: Delta, logprobs: ChatCompletionLogprobs? = nil, finishReason: String? = nil) {
            (self.index, self.delta, self.logprobs, self.finishReason) = (index, delta, logprobs, finishReason)
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decode(.index, or: 0)
            delta = try c.decode(.delta, or: Delta())
            logprobs = try c.decodeIfPresent(ChatCompletionLogprobs.self, forKey: .logprobs)
            finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encodeIfPresent(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)  // null until the last chunk, as OpenAI sends it
        }
    }
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: CompletionUsage?

    public init(id: String, created: Int, model: String, choices: [Choice], usage: CompletionUsage? = nil) {
        (self.id, self.object, self.created, self.model, self.choices, self.usage) = (id, "chat.completion.chunk", created, model, choices, usage)
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(.id, or: "")
        object = try c.decode(.object, or: "chat.completion.chunk")
        created = try c.decode(.created, or: 0)
        model = try c.decode(.model, or: "")
        choices = try c.decode(.choices, or: [])
        usage = try c.decodeIfPresent(CompletionUsage.self, forKey: .usage)
    }
}

// MARK: Completions (legacy)

/// Legacy completions logprobs: parallel lists over the returned tokens (prompt tokens first with
/// echo); the first prompt token has no logprob and no alternatives.
public struct CompletionLogprobs: Codable, Sendable {
    public var tokens: [String] = []
    public var tokenLogprobs: [Double?] = []
    public var topLogprobs: [[String: Double]?] = []
    public var textOffset: [Int] = []
    enum CodingKeys: String, CodingKey { case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset" }

    public init() {}
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tokens = try c.decode(.tokens, or: [])
        tokenLogprobs = try c.decode(.tokenLogprobs, or: [])
        // Some servers send these in other shapes: then they are missing, not an error.
        topLogprobs = (try? c.decode(.topLogprobs, or: [])) ?? []
        textOffset = (try? c.decode(.textOffset, or: [])) ?? []
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(tokenLogprobs.map { $0.map(Float.init) }, forKey: .tokenLogprobs)
        try c.encode(topLogprobs.map { $0?.mapValues(Float.init) }, forKey: .topLogprobs)
        try c.encode(textOffset, forKey: .textOffset)
    }
}

/// A completions answer, and (with `usage` nil) one server-sent event of a streamed one.
public struct Completion: Codable, Sendable {
    public struct Choice: Codable, Sendable {
        public var index: Int
        public var text: String
        public var logprobs: CompletionLogprobs?
        public var finishReason: String?
        enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason" }
        public init(index: Int, text: String, logprobs: CompletionLogprobs? = nil, finishReason: String?) {
            (self.index, self.text, self.logprobs, self.finishReason) = (index, text, logprobs, finishReason)
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decode(.index, or: 0)
            text = try c.decode(.text, or: "")
            logprobs = try c.decodeIfPresent(CompletionLogprobs.self, forKey: .logprobs)
            finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(text, forKey: .text)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: CompletionUsage?

    public init(id: String, created: Int, model: String, choices: [Choice], usage: CompletionUsage? = nil) {
        (self.id, self.object, self.created, self.model, self.choices, self.usage) = (id, "text_completion", created, model, choices, usage)
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(.id, or: "")
        object = try c.decode(.object, or: "text_completion")
        created = try c.decode(.created, or: 0)
        model = try c.decode(.model, or: "")
        choices = try c.decode(.choices, or: [])
        usage = try c.decodeIfPresent(CompletionUsage.self, forKey: .usage)
    }
}

// MARK: Embeddings

/// An embedding as the request's `encoding_format` asks: its numbers ("float"), or the base64 of
/// their little-endian float32 bytes ("base64", OpenAI's packing).
public enum EmbeddingVector: Codable, Sendable, Equatable {
    case float([Float])
    case base64(String)

    public init(_ values: [Float], base64: Bool) {
        guard base64 else { self = .float(values); return }
        var bytes = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        self = .base64(bytes.base64EncodedString())
    }

    /// The numbers, read back from base64 when sent so; nil for base64 that is not whole float32s.
    public var values: [Float]? {
        switch self {
        case .float(let v): return v
        case .base64(let s):
            guard let bytes = Data(base64Encoded: s), bytes.count % 4 == 0 else { return nil }
            return stride(from: 0, to: bytes.count, by: 4).map { i in
                Float(bitPattern: bytes[bytes.startIndex + i..<bytes.startIndex + i + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .base64(s) } else { self = .float(try c.decode([Float].self)) }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .float(let v): try c.encode(v)
        case .base64(let s): try c.encode(s)
        }
    }
}

public struct EmbeddingResponse: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public var object: String
        public var index: Int
        public var embedding: EmbeddingVector
        public init(index: Int, embedding: EmbeddingVector) { (object, self.index, self.embedding) = ("embedding", index, embedding) }
    }
    public struct Usage: Codable, Sendable {
        public var promptTokens: Int
        public var totalTokens: Int
        enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", totalTokens = "total_tokens" }
        public init(promptTokens: Int) { (self.promptTokens, totalTokens) = (promptTokens, promptTokens) }
    }
    public var object: String
    public var data: [Item]
    public var model: String
    public var usage: Usage

    public init(data: [Item], model: String, usage: Usage) { (object, self.data, self.model, self.usage) = ("list", data, model, usage) }
}

// MARK: Models, errors

public struct ModelList: Codable, Sendable {
    public struct Model: Codable, Sendable {
        public var id: String
        public var object: String
        public var created: Int
        public var ownedBy: String
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
        public init(id: String, created: Int, ownedBy: String) {
            (self.id, self.object, self.created, self.ownedBy) = (id, "model", created, ownedBy)
        }
    }
    public var object: String
    public var data: [Model]
    public init(data: [Model]) { (object, self.data) = ("list", data) }
}

/// `{"error": {"message", "type", "param", "code"}}`, `param` and `code` null when they do not apply.
public struct ErrorResponse: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var message: String
        public var type: String
        public var param: String?
        public var code: String?
        enum CodingKeys: String, CodingKey { case message, type, param, code }
        public init(message: String, type: String, param: String? = nil, code: String? = nil) {
            (self.message, self.type, self.param, self.code) = (message, type, param, code)
        }
        /// Also a bare string, as some servers send it.
        public init(from decoder: any Decoder) throws {
            if let single = try? decoder.singleValueContainer(), let s = try? single.decode(String.self) {
                self.init(message: s, type: "")
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(message: try c.decode(String.self, forKey: .message), type: try c.decode(.type, or: ""),
                      param: try c.decodeIfPresent(String.self, forKey: .param), code: try? c.decodeIfPresent(String.self, forKey: .code))
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)
            try c.encode(code, forKey: .code)
        }
    }
    public var error: Detail
    public init(error: Detail) { self.error = error }
}
