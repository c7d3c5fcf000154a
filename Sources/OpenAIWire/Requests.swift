import Foundation
import Templates

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

/// `response_format`: "text", "json_object", or "json_schema" with `json_schema`.
public struct ResponseFormat: Codable, Sendable {
    /// `json_schema`'s body: the schema the reply must satisfy.
    public struct JSONSchemaSpec: Codable, Sendable {
        public var name: String?
        public var description: String?
        /// Read from the body's text by `ChatCompletionRequest.decode(body:)` (key order and key spelling kept).
        public var schema: Value?
        public var strict: Bool?
        public init(name: String? = nil, schema: Value? = nil, strict: Bool? = nil) {
            self.name = name
            self.schema = schema
            self.strict = strict
        }
    }
    public var type: String
    public var jsonSchema: JSONSchemaSpec?
    public init(type: String, jsonSchema: JSONSchemaSpec? = nil) {
        self.type = type
        self.jsonSchema = jsonSchema
    }
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
        /// Null (absent) for an assistant turn that only calls tools.
        public var content: MessageContent?
        /// An assistant turn's calls.
        public var toolCalls: [ToolCall]?
        /// A `tool` turn: the id of the call it answers.
        public var toolCallId: String?
        /// A `tool` or `function` turn: the function's name (also a participant's name, which is ignored).
        public var name: String?
        public init(role: String, content: String?, toolCalls: [ToolCall]? = nil, toolCallId: String? = nil, name: String? = nil) {
            self.role = role
            self.content = content.map(MessageContent.init)
            (self.toolCalls, self.toolCallId, self.name) = (toolCalls, toolCallId, name)
        }
    }

    /// A call in an assistant turn: `{id, type: "function", function: {name, arguments}}`.
    public struct ToolCall: Codable, Sendable, Equatable {
        public struct Function: Codable, Sendable, Equatable {
            public var name: String
            /// JSON text. A client that sends an object instead has it written as text (keys sorted).
            public var arguments: String
            public init(name: String, arguments: String) { (self.name, self.arguments) = (name, arguments) }
            enum CodingKeys: String, CodingKey { case name, arguments }
            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                name = try c.decode(String.self, forKey: .name)
                if let text = try? c.decode(String.self, forKey: .arguments) { arguments = text } else {
                    arguments = try c.decodeIfPresent(Value.self, forKey: .arguments).map { try $0.jsonText() } ?? "{}"
                }
            }
        }
        public var id: String?
        public var type: String?
        public var function: Function
        public init(id: String, function: Function) { (self.id, self.type, self.function) = (id, "function", function) }
    }

    /// `tools[]`: a function the model may call.
    public struct Tool: Codable, Sendable {
        public struct Function: Codable, Sendable {
            public var name: String?
            public var description: String?
            /// JSON Schema of the arguments object.
            public var parameters: Value?
            public var strict: Bool?
            public init(name: String, description: String? = nil, parameters: Value? = nil) {
                (self.name, self.description, self.parameters) = (name, description, parameters)
            }
        }
        public var type: String?
        public var function: Function?
        public init(function: Function) { (self.type, self.function) = ("function", function) }

        /// The tool as OpenAI sends it (what templates iterate), keys in the API's order.
        public var value: Value {
            var f = OrderedDict()
            if let name = function?.name { f["name"] = .string(name) }
            if let d = function?.description { f["description"] = .string(d) }
            if let p = function?.parameters { f["parameters"] = p }
            if let strict = function?.strict { f["strict"] = .bool(strict) }
            return ["type": .string(type ?? "function"), "function": .dict(f)]
        }
    }

    /// `tool_choice`: "none", "auto", "required", or `{type: "function", function: {name}}`.
    public enum ToolChoice: Codable, Sendable, Equatable {
        case none, auto, required
        case function(String)

        struct Named: Codable { struct Function: Codable { var name: String }; var type: String?; var function: Function }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try stringIfString(c) {
                switch s {
                case "none": self = .none
                case "auto": self = .auto
                case "required": self = .required
                default:
                    throw InvalidField(message: "Invalid value: '\(s)'. Supported values are: 'none', 'auto', 'required', or an object naming a function.",
                                       param: "tool_choice")
                }
                return
            }
            guard let named = try? c.decode(Named.self), named.type == nil || named.type == "function" else {
                throw InvalidField(message: "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                                   param: "tool_choice")
            }
            self = .function(named.function.name)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .none: try c.encode("none")
            case .auto: try c.encode("auto")
            case .required: try c.encode("required")
            case .function(let name): try c.encode(Named(type: "function", function: .init(name: name)))
            }
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
    public var frequencyPenalty: Float?
    public var presencePenalty: Float?
    public var seed: Int64?
    public var stop: StopSequences?
    public var n: Int?
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var responseFormat: ResponseFormat?
    /// llama.cpp's extension: keep generating past end-of-generation tokens (load tests).
    public var ignoreEos: Bool?
    public var tools: [Tool]?
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?

    public init(model: String, messages: [Message]) {
        self.model = model
        self.messages = messages
    }
}

extension ChatCompletionRequest {
    /// A body decoded with `OpenAIJSON.requestDecoder()`, its free-form JSON (tools' `parameters`,
    /// `response_format`'s JSON Schema, call arguments sent as objects) then taken from the text itself: the decoder's key strategy
    /// would rename the keys inside them (`max_stops` to `maxStops`) and Codable loses their order,
    /// which templates print. (Encoding has the same problem: send tools with a plain JSONEncoder.)
    public static func decode(body data: Data) throws -> ChatCompletionRequest {
        var r = try OpenAIJSON.requestDecoder().decode(Self.self, from: data)
        guard let text = String(data: data, encoding: .utf8), let raw = try? Value(json: text) else { return r }
        if let rawTools = raw["tools"]?.arrayValue, var tools = r.tools {
            for (i, t) in zip(tools.indices, rawTools) where tools[i].function != nil {
                let p = t["function"]?["parameters"]
                tools[i].function?.parameters = p == Value.none ? nil : p
            }
            r.tools = tools
        }
        if r.responseFormat?.jsonSchema != nil {
            let schema = raw["response_format"]?["json_schema"]?["schema"]
            r.responseFormat?.jsonSchema?.schema = schema == Value.none ? nil : schema
        }
        if let rawMessages = raw["messages"]?.arrayValue {
            for (i, m) in zip(r.messages.indices, rawMessages) {
                guard let rawCalls = m["tool_calls"]?.arrayValue, r.messages[i].toolCalls != nil else { continue }
                for (j, c) in zip(r.messages[i].toolCalls!.indices, rawCalls) {
                    if let a = c["function"]?["arguments"], a.isObject, let exact = try? a.jsonText() {
                        r.messages[i].toolCalls![j].function.arguments = exact
                    }
                }
            }
        }
        return r
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
    public var frequencyPenalty: Float?
    public var presencePenalty: Float?
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
