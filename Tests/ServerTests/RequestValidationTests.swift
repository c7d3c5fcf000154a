import Foundation
import OpenAIWire
import Testing
@testable import Server

/// The requests' own checks, with the messages OpenAI's clients show.
struct RequestValidationTests {
    func chat(_ json: String) throws -> ChatCompletionRequest {
        try OpenAIJSON.requestDecoder().decode(ChatCompletionRequest.self, from: Data(json.utf8))
    }

    func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch let e as APIError { return e.body.error.message } catch { return "\(error)" }
        return nil
    }

    @Test func chatRequests() throws {
        #expect(message { try chat(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).validate() } == nil)
        #expect(message { try chat(#"{"model":"m","messages":[]}"#).validate() } == "'messages' must not be empty")
        #expect(message { try chat(#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}"#).validate() } == "only n=1 is supported")
        #expect(message { try chat(#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#).validate() }?
            .hasPrefix("Invalid value: 'robot'. Supported values are: 'system'") == true)
        #expect(message { try chat(#"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}"#).validate() }?
            .contains("must contain the word 'json'") == true)
        #expect(message { try chat(#"{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2}"#).validate() }
            == "'top_logprobs' needs 'logprobs' set to true")
        #expect(message { _ = try chat(#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#).sampling() }
            == "'temperature' must be between 0 and 2")
    }

    @Test func completionRequests() throws {
        func completion(_ json: String) throws -> CompletionRequest {
            try OpenAIJSON.requestDecoder().decode(CompletionRequest.self, from: Data(json.utf8))
        }
        #expect(message { try completion(#"{"model":"m","prompt":"a"}"#).validate(slots: 1, queueLimit: 1) } == nil)
        #expect(message { try completion(#"{"model":"m","prompt":["a","b","c"]}"#).validate(slots: 1, queueLimit: 1) }
            == "this request has 3 prompts; the server takes at most 2 at once (1 slots and a queue of 1)")
        #expect(message { try completion(#"{"model":"m","prompt":["a","b"],"stream":true}"#).validate(slots: 2, queueLimit: 0) }
            == "streaming takes one prompt")
        #expect(message { try completion(#"{"model":"m","prompt":"a","logprobs":21}"#).validate(slots: 1, queueLimit: 1) }
            == "'logprobs' must be between 0 and 20")
        #expect(message { try completion(#"{"model":"m","prompt":"a","max_tokens":-1}"#).validate(slots: 1, queueLimit: 1) }
            == "'max_tokens' must be at least 0")
    }
}
