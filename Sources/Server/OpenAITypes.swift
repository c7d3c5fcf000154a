import Foundation

// The OpenAI API's request and response bodies, named as the API names them (decoded and encoded
// with snake_case keys). Only the fields the server reads or writes are declared; unknown fields
// are ignored, as OpenAI's API does; a declared field of the wrong type is a 400.

/// The value as a string, or nil when it is another JSON type. A string that is not valid text
/// (a lone surrogate escape, invalid UTF-8) throws, so the request is refused for what it is
/// rather than as "the wrong type".
func stringIfString(_ c: any SingleValueDecodingContainer) throws -> String? {
    do { return try c.decode(String.self) } catch DecodingError.typeMismatch { return nil }
}

/// `stop`: one string or a list of them.
struct StopSequences: Decodable {
    let values: [String]
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { values = [] } else if let s = try stringIfString(c) { values = [s] } else {
            values = try c.decode([String].self)
        }
    }
}

struct StreamOptions: Decodable { var includeUsage: Bool? }

struct ResponseFormat: Decodable { var type: String }

/// A chat message's `content`: a string, or a list of parts of which the text ones are kept.
struct MessageContent: Decodable {
    let text: String
    struct Part: Decodable { var type: String; var text: String? }
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { text = "" } else if let s = try stringIfString(c) { text = s } else {
            let parts = try c.decode([Part].self)
            if let other = parts.first(where: { $0.type != "text" }) {
                throw APIError.badRequest("content parts of type '\(other.type)' are not supported", param: "messages")
            }
            text = parts.compactMap(\.text).joined()
        }
    }
}

struct ChatCompletionRequest: Decodable {
    struct Message: Decodable { var role: String; var content: MessageContent? }
    var model: String
    var messages: [Message]
    var stream: Bool?
    var streamOptions: StreamOptions?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Float?
    var topP: Float?
    var seed: Int64?
    var stop: StopSequences?
    var n: Int?
    var logprobs: Bool?
    var topLogprobs: Int?
    var responseFormat: ResponseFormat?
    /// llama.cpp's extension: keep generating past end-of-generation tokens (load tests).
    var ignoreEos: Bool?
}

/// `prompt`: a string, a list of strings, a list of token ids, or a list of such lists.
enum PromptInput: Decodable {
    case text(String)
    case tokens([Int32])

    static func list(from decoder: any Decoder) throws -> [PromptInput] {
        let c = try decoder.singleValueContainer()
        if let s = try stringIfString(c) { return [.text(s)] }
        if let t = try? c.decode([Int32].self) { return [.tokens(t)] }
        if let ss = try? c.decode([String].self) { return ss.map { .text($0) } }
        if let tt = try? c.decode([[Int32]].self) { return tt.map { .tokens($0) } }
        throw APIError.badRequest("'prompt' must be a string, a list of strings, a list of token ids or a list of such lists",
                                  param: "prompt")
    }

    init(from decoder: any Decoder) throws { self = try Self.list(from: decoder)[0] }
}

struct Prompts: Decodable {
    let items: [PromptInput]
    init(from decoder: any Decoder) throws { items = try PromptInput.list(from: decoder) }
}

struct CompletionRequest: Decodable {
    var model: String
    var prompt: Prompts
    var maxTokens: Int?
    var temperature: Float?
    var topP: Float?
    var seed: Int64?
    var stop: StopSequences?
    var n: Int?
    var echo: Bool?
    var logprobs: Int?
    var stream: Bool?
    var streamOptions: StreamOptions?
    /// llama.cpp's extension: keep generating past end-of-generation tokens (load tests).
    var ignoreEos: Bool?
}

struct TokenizeRequest: Decodable {
    var model: String?
    var content: String
    var addSpecial: Bool?
    var withPieces: Bool?
}

struct DetokenizeRequest: Decodable {
    var model: String?
    var tokens: [Int32]
}

// MARK: Responses

struct Usage: Encodable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }
    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
}

/// Chat logprobs: one entry per generated token.
struct ChatLogprobs: Encodable {
    struct Top: Encodable { var token: String; var logprob: Float; var bytes: [UInt8] }
    struct Entry: Encodable {
        var token: String; var logprob: Float; var bytes: [UInt8]; var topLogprobs: [Top]
        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
    }
    var content: [Entry]
}

struct ChatCompletion: Encodable {
    struct Message: Encodable { var role = "assistant"; var content: String }
    struct Choice: Encodable {
        var index = 0; var message: Message; var logprobs: ChatLogprobs?; var finishReason: String
        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
    }
    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage
}

struct ChatCompletionChunk: Encodable {
    struct Delta: Encodable { var role: String?; var content: String? }
    struct Choice: Encodable {
        var index = 0
        var delta: Delta
        var logprobs: ChatLogprobs?
        var finishReason: String?
        enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encodeIfPresent(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)  // null until the last chunk, as OpenAI sends it
        }
    }
    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage?
}

/// Legacy completions logprobs: parallel lists over the returned tokens (prompt tokens first with echo).
struct CompletionLogprobs: Encodable {
    var tokens: [String] = []
    var tokenLogprobs: [Float?] = []
    var topLogprobs: [[String: Float]?] = []
    var textOffset: [Int] = []
    enum CodingKeys: String, CodingKey { case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset" }
}

struct Completion: Encodable {
    struct Choice: Encodable {
        var index: Int
        var text: String
        var logprobs: CompletionLogprobs?
        var finishReason: String?
        enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason" }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(text, forKey: .text)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage?
}

struct ModelList: Encodable {
    struct Model: Encodable {
        var id: String; var object = "model"; var created: Int; var ownedBy = "featherweight"
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }
    var object = "list"
    var data: [Model]
}

/// `{"error": {"message", "type", "param", "code"}}` with its HTTP status.
struct APIError: Error, Encodable {
    struct Body: Encodable {
        var message: String
        var type: String
        var param: String?
        var code: String?
        enum CodingKeys: String, CodingKey { case message, type, param, code }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)
            try c.encode(code, forKey: .code)
        }
    }
    var error: Body
    var status: Int
    var retryAfter: Int? = nil
    enum CodingKeys: String, CodingKey { case error }

    init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        error = Body(message: message, type: type, param: param, code: code)
    }

    static func badRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }
}
