import Foundation

// The OpenAI API's request bodies, named as the API names them, shared by the server (which
// decodes them), the OpenAI backend and the load tester (which send them). Only the fields
// Featherweight reads or sends are declared; unknown fields are ignored, as OpenAI's API does.
// Properties are camelCase and travel as snake_case through `OpenAIJSON.requestEncoder()` and
// `requestDecoder()`: a key strategy, not CodingKeys, so the server still takes the camelCase spellings
// (`maxTokens`) it has always taken.

/// The request bodies' JSON coders (responses name their keys: see Responses.swift).
public enum OpenAIJSON {
    /// Encodes a request body with the API's snake_case keys.
    public static func requestEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    /// Decodes a request body sent with the API's snake_case keys.
    public static func requestDecoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

/// A value the API's schema allows that Featherweight does not take, or a value of no shape the
/// field has; `param` names the field, as OpenAI's errors do.
public struct InvalidField: Error, Sendable {
    public let message: String
    public let param: String
}

/// The value as a string, or nil when it is another JSON type. A string that is not valid text
/// (a lone surrogate escape, invalid UTF-8) throws, so the request is refused for what it is
/// rather than as "the wrong type".
func stringIfString(_ c: any SingleValueDecodingContainer) throws -> String? {
    do { return try c.decode(String.self) } catch DecodingError.typeMismatch { return nil }
}

/// `stop`: one string or a list of them (sent as a list).
public struct StopSequences: Codable, Sendable {
    public var values: [String]
    public init(_ values: [String]) { self.values = values }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { values = [] } else if let s = try stringIfString(c) { values = [s] } else {
            values = try c.decode([String].self)
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }
}

public struct StreamOptions: Codable, Sendable {
    public var includeUsage: Bool?
    public init(includeUsage: Bool? = nil) { self.includeUsage = includeUsage }
}

public struct ResponseFormat: Codable, Sendable {
    public var type: String
    public init(type: String) { self.type = type }
}

/// A chat message's `content`: a string, or a list of parts of which only text ones are taken
/// (sent as a string).
public struct MessageContent: Codable, Sendable {
    public var text: String
    struct Part: Decodable { var type: String; var text: String? }
    public init(_ text: String) { self.text = text }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { text = "" } else if let s = try stringIfString(c) { text = s } else {
            let parts = try c.decode([Part].self)
            if let other = parts.first(where: { $0.type != "text" }) {
                throw InvalidField(message: "content parts of type '\(other.type)' are not supported", param: "messages")
            }
            text = parts.compactMap(\.text).joined()
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

public struct ChatCompletionRequest: Codable, Sendable {
    public struct Message: Codable, Sendable {
        public var role: String
        public var content: MessageContent?
        public init(role: String, content: String) {
            self.role = role
            self.content = MessageContent(content)
        }
    }
    public var model: String
    public var messages: [Message]
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var temperature: Float?
    public var topP: Float?
    public var seed: Int64?
    public var stop: StopSequences?
    public var n: Int?
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var responseFormat: ResponseFormat?
    /// llama.cpp's extension: keep generating past end-of-generation tokens (load tests).
    public var ignoreEos: Bool?

    public init(model: String, messages: [Message]) {
        self.model = model
        self.messages = messages
    }
}

/// `prompt`: a string, a list of strings, a list of token ids, or a list of such lists.
public enum PromptInput: Codable, Sendable {
    case text(String)
    case tokens([Int32])

    /// `field`: the request's name for the value (`prompt`, or `input` of an embeddings request).
    static func list(from decoder: any Decoder, field: String = "prompt") throws -> [PromptInput] {
        let c = try decoder.singleValueContainer()
        if let s = try stringIfString(c) { return [.text(s)] }
        if let t = try? c.decode([Int32].self) { return [.tokens(t)] }
        if let ss = try? c.decode([String].self) { return ss.map { .text($0) } }
        if let tt = try? c.decode([[Int32]].self) { return tt.map { .tokens($0) } }
        throw InvalidField(message: "'\(field)' must be a string, a list of strings, a list of token ids or a list of such lists",
                           param: field)
    }

    public init(from decoder: any Decoder) throws { self = try Self.list(from: decoder)[0] }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let s): try c.encode(s)
        case .tokens(let t): try c.encode(t)
        }
    }
}

/// The prompts of one completion request (one is sent alone, several as a list).
public struct Prompts: Codable, Sendable {
    public var items: [PromptInput]
    public init(_ items: [PromptInput]) { self.items = items }
    public init(from decoder: any Decoder) throws { items = try PromptInput.list(from: decoder) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if items.count == 1 { try c.encode(items[0]) } else { try c.encode(items) }
    }
}

public struct CompletionRequest: Codable, Sendable {
    public var model: String
    public var prompt: Prompts
    public var maxTokens: Int?
    public var temperature: Float?
    public var topP: Float?
    public var seed: Int64?
    public var stop: StopSequences?
    public var n: Int?
    public var echo: Bool?
    public var logprobs: Int?
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    /// llama.cpp's extension: keep generating past end-of-generation tokens (load tests).
    public var ignoreEos: Bool?

    public init(model: String, prompt: String) {
        self.model = model
        self.prompt = Prompts([.text(prompt)])
    }
}

/// `input` of an embeddings request: the shapes `prompt` takes (one input is sent alone).
public struct EmbeddingInputs: Codable, Sendable {
    public var items: [PromptInput]
    public init(_ items: [PromptInput]) { self.items = items }
    public init(from decoder: any Decoder) throws { items = try PromptInput.list(from: decoder, field: "input") }
    public func encode(to encoder: any Encoder) throws { try Prompts(items).encode(to: encoder) }
}

public struct EmbeddingRequest: Codable, Sendable {
    public var model: String
    public var input: EmbeddingInputs
    /// "float" (the default) or "base64".
    public var encodingFormat: String?
    /// Not supported: the vectors have the model's width.
    public var dimensions: Int?
    public var user: String?

    public init(model: String, input: [PromptInput], encodingFormat: String? = nil) {
        self.model = model
        self.input = EmbeddingInputs(input)
        self.encodingFormat = encodingFormat
    }
}
