import Engine
import Foundation
import Grammar
import Hummingbird
import NIOCore
import OpenAIWire
import Templates

// Request bodies: decoding with errors that name the field, and each request's own checks. The
// checks run after the model is looked up (an unknown model is a 404 first) and say what is
// wrong in OpenAI's words.

/// /tokenize body: llama.cpp server's (`content`, `add_special`) or vLLM's (`prompt`,
/// `add_special_tokens`, what lm-eval's remote tokenizer sends).
struct TokenizeRequest: Decodable {
    var model: String?
    var content: String?
    var prompt: String?
    var addSpecial: Bool?
    var addSpecialTokens: Bool?
    var withPieces: Bool?

    /// The text and whether BOS/EOS are added (vLLM's default is to add them, llama.cpp's is not).
    func validate() throws -> (text: String, addSpecial: Bool) {
        if let content { return (content, addSpecial ?? addSpecialTokens ?? false) }
        if let prompt { return (prompt, addSpecialTokens ?? addSpecial ?? true) }
        throw APIError.badRequest("'content' (or vLLM's 'prompt') is required", param: "content")
    }
}

/// llama.cpp server's (and vLLM's) /detokenize body.
struct DetokenizeRequest: Decodable {
    var model: String?
    var tokens: [Int32]
}

/// Engine's call type (inside ChatCompletionRequest, `ToolCall` is the wire type).
typealias EngineToolCall = ToolCall

extension ChatCompletionRequest {
    /// Chat roles OpenAI's API accepts.
    static let roles = ["system", "developer", "user", "assistant", "tool", "function"]

    var chatMessages: [ChatMessage] {
        messages.map { m in
            ChatMessage(role: m.role, content: m.content?.text ?? "",
                        toolCalls: m.toolCalls.map { calls in
                            calls.enumerated().map { i, c in
                                EngineToolCall(id: c.id ?? "call_\(i)", name: c.function.name, arguments: c.function.arguments)
                            }
                        },
                        toolCallID: m.toolCallId, name: m.name)
        }
    }

    /// The tools as the template gets them: OpenAI's `{type, function: {...}}` objects.
    var templateTools: [Value]? { tools.map { $0.map(\.value) } }

    /// The functions of `tools` (validated: every one has a name).
    var toolFunctions: [ToolFunction] {
        (tools ?? []).compactMap { t in
            t.function.flatMap { f in f.name.map { ToolFunction(name: $0, description: f.description, parameters: f.parameters) } }
        }
    }

    /// The calls `tool_choice` forces, as alternatives a grammar engine can hold the reply to
    /// (`ToolCallFamily.callConstraints`): "required", a call to any given function; a named
    /// choice, a call to that one; nil when the model may answer in text ("auto", "none", unset).
    func requiredToolCall(family: ToolCallFamily) -> [ToolCallConstraint]? {
        switch toolChoice {
        case .required?: return family.callConstraints(tools: toolFunctions)
        case .function(let name)?: return family.callConstraints(tools: toolFunctions.filter { $0.name == name })
        case .auto?, .none?, nil: return nil
        }
    }

    /// Whether a reply is read for tool calls: tools were given and `tool_choice` is not "none".
    var parsesToolCalls: Bool { !(tools ?? []).isEmpty && toolChoice != ChatCompletionRequest.ToolChoice.none }

    /// `tools`, `tool_choice` and the tool fields of messages, in OpenAI's words.
    func validateTools() throws {
        var names = Set<String>()
        if tools?.isEmpty == true {
            throw APIError.badRequest("Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                                      param: "tools", code: "empty_array")
        }
        for (i, tool) in (tools ?? []).enumerated() {
            if let type = tool.type, type != "function" {
                throw APIError.badRequest("Invalid value: '\(type)'. Supported values are: 'function'.", param: "tools[\(i)].type", code: "invalid_value")
            }
            guard let function = tool.function else {
                throw APIError.badRequest("Missing required parameter: 'tools[\(i)].function'.", param: "tools[\(i)].function", code: "missing_required_parameter")
            }
            guard let name = function.name else {
                throw APIError.badRequest("Missing required parameter: 'tools[\(i)].function.name'.", param: "tools[\(i)].function.name",
                                          code: "missing_required_parameter")
            }
            guard ToolCallParser.isValidName(name) else {
                throw APIError.badRequest("Invalid 'tools[\(i)].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.",
                                          param: "tools[\(i)].function.name", code: "invalid_value")
            }
            guard names.insert(name).inserted else {
                throw APIError.badRequest("Duplicate function name '\(name)' in 'tools'.", param: "tools[\(i)].function.name")
            }
            if let p = function.parameters, !p.isObject {
                throw APIError.badRequest("Invalid 'tools[\(i)].function.parameters': expected a JSON Schema object.", param: "tools[\(i)].function.parameters")
            }
        }
        switch toolChoice {
        case .required?, .function?:
            guard !names.isEmpty else {
                throw APIError.badRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", param: "tool_choice")
            }
            if case .function(let name)? = toolChoice, !names.contains(name) {
                throw APIError.badRequest("Invalid value for 'tool_choice': no function named '\(name)' was specified in the 'tools' parameter.",
                                          param: "tool_choice")
            }
        case .none?, .auto?, nil: break
        }
        for (i, m) in messages.enumerated() {
            if m.role == "tool" && (m.toolCallId ?? "").isEmpty {
                throw APIError.badRequest("Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.",
                                          param: "messages[\(i)].tool_call_id", code: "missing_required_parameter")
            }
            for (j, call) in (m.toolCalls ?? []).enumerated() {
                let at = "messages[\(i)].tool_calls[\(j)]"
                if m.role != "assistant" { throw APIError.badRequest("'tool_calls' is only allowed in assistant messages.", param: "messages[\(i)].tool_calls") }
                if let type = call.type, type != "function" {
                    throw APIError.badRequest("Invalid value: '\(type)'. Supported values are: 'function'.", param: "\(at).type", code: "invalid_value")
                }
                if (call.id ?? "").isEmpty { throw APIError.badRequest("Missing required parameter: '\(at).id'.", param: "\(at).id", code: "missing_required_parameter") }
                if call.function.name.isEmpty {
                    throw APIError.badRequest("Missing required parameter: '\(at).function.name'.", param: "\(at).function.name", code: "missing_required_parameter")
                }
            }
        }
    }

    func validate() throws {
        if let n, n != 1 { throw APIError.badRequest("only n=1 is supported", param: "n") }
        try validateTools()
        guard !messages.isEmpty else { throw APIError.badRequest("'messages' must not be empty", param: "messages") }
        for (i, message) in messages.enumerated() where !Self.roles.contains(message.role) {
            throw APIError.badRequest("Invalid value: '\(message.role)'. Supported values are: \(Self.roles.map { "'\($0)'" }.joined(separator: ", ")).",
                                      param: "messages[\(i)].role", code: "invalid_value")
        }
        if let format = responseFormat {
            switch format.type {
            case "text": break
            case "json_object":
                // OpenAI's own rule: the conversation must ask for JSON.
                guard chatMessages.contains(where: { $0.content.lowercased().contains("json") }) else {
                    throw APIError.badRequest("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                                              param: "messages")
                }
            case "json_schema":
                guard format.jsonSchema?.schema != nil else {
                    throw APIError.badRequest("Missing required parameter: 'response_format.json_schema.schema'.", param: "response_format.json_schema.schema",
                                              code: "missing_required_parameter")
                }
            default:
                throw APIError.badRequest("Invalid value: '\(format.type)'. Supported values are: 'text', 'json_object' and 'json_schema'.",
                                          param: "response_format.type", code: "invalid_value")
            }
        }
        let top = topLogprobs ?? 0
        guard (0...20).contains(top) else { throw APIError.badRequest("'top_logprobs' must be between 0 and 20", param: "top_logprobs") }
        if top > 0 && logprobs != true { throw APIError.badRequest("'top_logprobs' needs 'logprobs' set to true", param: "top_logprobs") }
    }

    func sampling() throws -> SamplingParameters {
        try APIServer.sampling(temperature: temperature, topP: topP, seed: seed, frequencyPenalty: frequencyPenalty, presencePenalty: presencePenalty)
    }

    /// The grammar the reply is held to: any JSON object or the values of a JSON Schema
    /// (`response_format`), or one tool call of `family`'s shape when `tool_choice` forces one;
    /// nil for free text.
    func outputGrammar(toolFamily family: ToolCallFamily?) throws -> Grammar? {
        let format = responseFormat?.type ?? "text"
        if ignoreEos == true, format != "text" {
            throw APIError.badRequest("'ignore_eos' cannot be combined with 'response_format' of type '\(format)': the output must end where the JSON does",
                                      param: "ignore_eos")
        }
        if let family, let calls = requiredToolCall(family: family) {
            if format != "text" {
                throw APIError.badRequest("'response_format' of type '\(format)' cannot be combined with a 'tool_choice' that forces a call",
                                          param: "response_format")
            }
            do { return try StructuredOutput.toolCall(calls) } catch {
                throw APIError.badRequest("tools: \(error)", param: "tools", code: "invalid_function_parameters")
            }
        }
        switch format {
        case "json_object": return StructuredOutput.jsonObject()
        case "json_schema":
            guard let schema = responseFormat?.jsonSchema?.schema else { return nil }  // validate() refused this
            do { return try StructuredOutput.jsonSchema(schema) } catch {
                throw APIError.badRequest("response_format.json_schema.schema: \(error)", param: "response_format.json_schema.schema",
                                          code: "invalid_json_schema")
            }
        default: return nil
        }
    }
}

extension CompletionRequest {
    /// `slots` and `queueLimit`: the model's scheduler, which takes every prompt of a request at once.
    func validate(slots: Int, queueLimit: Int) throws {
        if let n, n != 1 { throw APIError.badRequest("only n=1 is supported", param: "n") }
        guard (maxTokens ?? 0) >= 0 else { throw APIError.badRequest("'max_tokens' must be at least 0", param: "max_tokens") }
        if let logprobs, !(0...20).contains(logprobs) { throw APIError.badRequest("'logprobs' must be between 0 and 20", param: "logprobs") }
        let prompts = prompt.items
        guard !prompts.isEmpty else { throw APIError.badRequest("'prompt' must not be empty", param: "prompt") }
        if prompts.count > slots + queueLimit {
            throw APIError.badRequest("this request has \(prompts.count) prompts; the server takes at most \(slots + queueLimit) at once "
                                      + "(\(slots) slots and a queue of \(queueLimit))", param: "prompt")
        }
        if stream == true && prompts.count > 1 { throw APIError.badRequest("streaming takes one prompt", param: "prompt") }
    }

    func sampling() throws -> SamplingParameters {
        try APIServer.sampling(temperature: temperature, topP: topP, seed: seed, frequencyPenalty: frequencyPenalty, presencePenalty: presencePenalty)
    }
}

extension EmbeddingRequest {
    /// OpenAI's own limit on the inputs of one request.
    static let maxInputs = 2048

    /// Whether the vectors go out as base64; throws for a format or option the server does not take.
    func validate() throws -> Bool {
        if dimensions != nil {
            throw APIError.badRequest("'dimensions' is not supported: embeddings have the model's width", param: "dimensions")
        }
        let items = input.items
        guard !items.isEmpty else { throw APIError.badRequest("'input' must not be empty", param: "input") }
        guard items.count <= Self.maxInputs else {
            throw APIError.badRequest("'input' has \(items.count) items; at most \(Self.maxInputs) are taken", param: "input")
        }
        switch encodingFormat ?? "float" {
        case "float": return false
        case "base64": return true
        case let other:
            throw APIError.badRequest("Invalid value: '\(other)'. Supported values are: 'float' and 'base64'.",
                                      param: "encoding_format", code: "invalid_value")
        }
    }
}

extension APIServer {
    static func sampling(temperature: Float?, topP: Float?, seed: Int64?, frequencyPenalty: Float?, presencePenalty: Float?) throws -> SamplingParameters {
        let t = temperature ?? 1, p = topP ?? 1
        guard (0...2).contains(t) else { throw APIError.badRequest("'temperature' must be between 0 and 2", param: "temperature") }
        guard p > 0 && p <= 1 else { throw APIError.badRequest("'top_p' must be greater than 0 and at most 1", param: "top_p") }
        for (name, value) in [("frequency_penalty", frequencyPenalty), ("presence_penalty", presencePenalty)] {
            if let value, !(-2...2).contains(value) { throw APIError.badRequest("'\(name)' must be between -2 and 2", param: name) }
        }
        // OpenAI semantics: temperature and top-p shape the distribution; the penalties (over the
        // last 64 tokens, prompt included, as the repetition penalty counts them) adjust it first.
        return SamplingParameters(temperature: t, topK: 0, topP: p, minP: 0, frequencyPenalty: frequencyPenalty ?? 0,
                                  presencePenalty: presencePenalty ?? 0,
                                  seed: seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max))
    }

    /// The body as `T`, and the request with its body collected: `whileConnected` needs the request
    /// in that state (Hummingbird then replays the body and goes on watching the connection).
    func decode<T: Decodable>(_ type: T.Type, _ request: Request,
                              parse: (Data) throws -> T = { try OpenAIJSON.requestDecoder().decode(T.self, from: $0) }) async throws -> (T, Request) {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: configuration.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw APIError(status: 413, message: "the request body is larger than \(configuration.maxBodyBytes) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        }
        let data = Data(buffer.readableBytesView)
        do { return (try parse(data), request) } catch let e as InvalidField {
            throw APIError.badRequest(e.message, param: e.param)
        } catch let e as DecodingError {
            if case .dataCorrupted(let c) = e, c.codingPath.isEmpty { throw Self.diagnose(data) }
            throw Self.describe(e)
        }
    }
    /// Why a body that JSONDecoder calls "not valid JSON" was refused. Foundation says no more for
    /// bad UTF-8, a lone surrogate escape, or a number too large for its field, so look again:
    /// the bytes, then JSONSerialization's reason, then the first number no field can hold.
    static func diagnose(_ data: Data) -> APIError {
        guard String(data: data, encoding: .utf8) != nil else { return .badRequest("the request body is not valid UTF-8") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return .badRequest("the request body is not valid JSON" + (reason.map { ": \($0)" } ?? ""))
        }
        if let (path, number) = outOfRange(parsed, path: "") {
            return .badRequest("'\(path)' is out of range: \(number)", param: path)
        }
        return .badRequest("the request body is not valid JSON")
    }

    /// The first number (depth first) that neither a Float nor an Int64 field can hold, with its path.
    static func outOfRange(_ value: Any, path: String) -> (String, String)? {
        switch value {
        case let d as [String: Any]:
            for key in d.keys.sorted() {
                if let hit = outOfRange(d[key]!, path: path.isEmpty ? key : "\(path).\(key)") { return hit }
            }
        case let a as [Any]:
            for (i, v) in a.enumerated() { if let hit = outOfRange(v, path: "\(path)[\(i)]") { return hit } }
        case let n as NSNumber:  // booleans too: 0 and 1 are in range
            let text = n.description
            let isInteger = !text.contains(".") && !text.lowercased().contains("e")
            if isInteger ? Int64(text) == nil : abs(n.doubleValue) > Double(Float.greatestFiniteMagnitude) { return (path, text) }
        default: break
        }
        return nil
    }

    /// One line naming the field, as OpenAI's 400s do.
    static func describe(_ e: DecodingError) -> APIError {
        func path(_ c: [any CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? ".\(snake($0.stringValue))" }.joined().trimmingCharacters(in: ["."])
        }
        switch e {
        case .typeMismatch(let type, let c):
            return .badRequest("'\(path(c.codingPath))' has the wrong type: expected \(typeName(type))", param: path(c.codingPath))
        case .valueNotFound(let type, let c):
            return .badRequest("'\(path(c.codingPath))' must not be null: expected \(typeName(type))", param: path(c.codingPath))
        case .keyNotFound(let key, let c):
            let p = path(c.codingPath + [key])
            return .badRequest("'\(p)' is a required property", param: p)
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return .badRequest("the request body is not valid JSON") }
            return .badRequest("'\(path(c.codingPath))' is invalid: \(c.debugDescription)", param: path(c.codingPath))
        @unknown default:
            return .badRequest("the request body does not match the API: \(e)")
        }
    }

    static func snake(_ s: String) -> String {
        var out = ""
        for ch in s { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
        return out
    }

    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Float.Type, is Double.Type: "a number"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type: "an integer"
        default: "\(t)".hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
