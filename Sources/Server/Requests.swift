import Engine
import Foundation
import Hummingbird
import NIOCore
import OpenAIWire

// Request bodies: decoding with errors that name the field, and each request's own checks. The
// checks run after the model is looked up (an unknown model is a 404 first) and say what is
// wrong in OpenAI's words.

/// llama.cpp server's /tokenize body.
struct TokenizeRequest: Decodable {
    var model: String?
    var content: String
    var addSpecial: Bool?
    var withPieces: Bool?
}

/// llama.cpp server's /detokenize body.
struct DetokenizeRequest: Decodable {
    var model: String?
    var tokens: [Int32]
}

extension ChatCompletionRequest {
    /// Chat roles OpenAI's API accepts.
    static let roles = ["system", "developer", "user", "assistant", "tool", "function"]

    var chatMessages: [ChatMessage] { messages.map { ChatMessage(role: $0.role, content: $0.content?.text ?? "") } }

    func validate() throws {
        if let n, n != 1 { throw APIError.badRequest("only n=1 is supported", param: "n") }
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
            default:
                throw APIError.badRequest("response_format type '\(format.type)' is not supported (text or json_object)", param: "response_format")
            }
        }
        let top = topLogprobs ?? 0
        guard (0...20).contains(top) else { throw APIError.badRequest("'top_logprobs' must be between 0 and 20", param: "top_logprobs") }
        if top > 0 && logprobs != true { throw APIError.badRequest("'top_logprobs' needs 'logprobs' set to true", param: "top_logprobs") }
    }

    func sampling() throws -> SamplingParameters { try APIServer.sampling(temperature: temperature, topP: topP, seed: seed) }
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

    func sampling() throws -> SamplingParameters { try APIServer.sampling(temperature: temperature, topP: topP, seed: seed) }
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
    static func sampling(temperature: Float?, topP: Float?, seed: Int64?) throws -> SamplingParameters {
        let t = temperature ?? 1, p = topP ?? 1
        guard (0...2).contains(t) else { throw APIError.badRequest("'temperature' must be between 0 and 2", param: "temperature") }
        guard p > 0 && p <= 1 else { throw APIError.badRequest("'top_p' must be greater than 0 and at most 1", param: "top_p") }
        // OpenAI semantics: only temperature and top-p shape the distribution.
        return SamplingParameters(temperature: t, topK: 0, topP: p, minP: 0,
                                  seed: seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max))
    }

    /// The body as `T`, and the request with its body collected: `whileConnected` needs the request
    /// in that state (Hummingbird then replays the body and goes on watching the connection).
    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> (T, Request) {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: configuration.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw APIError(status: 413, message: "the request body is larger than \(configuration.maxBodyBytes) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        }
        let data = Data(buffer.readableBytesView)
        do { return (try OpenAIJSON.requestDecoder().decode(T.self, from: data), request) } catch let e as InvalidField {
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
