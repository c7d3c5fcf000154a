import Engine
import Foundation
import OpenAIWire
import Templates
import Testing
@testable import Server

/// Chat requests with tools: their checks, and what the chat template is given. The renderings are
/// compared with jinja2's on the same requests (Tests/Fixtures/templates/tool_requests.jsonl, from
/// scripts/oracle/tool_template_fixtures.py): tools as sent, calls' arguments parsed into objects,
/// null content for a turn that only calls tools.
struct ToolRequestTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/templates")

    func chat(_ json: String) throws -> ChatCompletionRequest { try ChatCompletionRequest.decode(body: Data(json.utf8)) }

    func error(_ body: () throws -> Void) -> (message: String, param: String?)? {
        do { try body() } catch let e as APIError { return (e.body.error.message, e.body.error.param) } catch { return ("\(error)", nil) }
        return nil
    }

    static let weather = #"{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}"#
    static let user = #"{"role":"user","content":"hi"}"#

    @Test func validToolRequestsPass() throws {
        #expect(error { try chat(#"{"model":"m","messages":[\#(Self.user)],"tools":[\#(Self.weather)]}"#).validate() } == nil)
        #expect(error { try chat(#"{"model":"m","messages":[\#(Self.user)],"tools":[\#(Self.weather)],"tool_choice":"required"}"#).validate() } == nil)
        #expect(error {
            try chat(#"{"model":"m","messages":[\#(Self.user)],"tools":[\#(Self.weather)],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}"#)
                .validate()
        } == nil)
        let history = #"""
            {"model":"m","tools":[\#(Self.weather)],"messages":[\#(Self.user),
             {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Bern\"}"}}]},
             {"role":"tool","tool_call_id":"call_1","content":"sunny"}]}
            """#
        let r = try chat(history)
        #expect(error { try r.validate() } == nil)
        let messages = r.chatMessages
        #expect(messages[1].toolCalls == [ToolCall(id: "call_1", name: "get_weather", arguments: #"{"city":"Bern"}"#)])
        #expect(messages[1].templateValue["content"] == Value.none)
        #expect(messages[1].templateValue["tool_calls"]?.arrayValue?[0]["function"]?["arguments"] == ["city": "Bern"])
        #expect(messages[2].toolCallID == "call_1" && messages[2].content == "sunny")
    }

    @Test func badToolRequestsNameTheParameter() throws {
        func check(_ json: String, _ param: String, _ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let e = error { try chat(json).validate() }
            #expect(e?.param == param, sourceLocation: sourceLocation)
            #expect(e?.message.contains(contains) == true, "\(e?.message ?? "no error")", sourceLocation: sourceLocation)
        }
        let m = #""model":"m","messages":[\#(Self.user)]"#
        check(#"{\#(m),"tools":[]}"#, "tools", "empty array")
        check(#"{\#(m),"tools":[{"type":"retrieval","function":{"name":"a"}}]}"#, "tools[0].type", "Supported values are: 'function'")
        check(#"{\#(m),"tools":[{"type":"function"}]}"#, "tools[0].function", "Missing required parameter")
        check(#"{\#(m),"tools":[{"type":"function","function":{"description":"x"}}]}"#, "tools[0].function.name", "Missing required parameter")
        check(#"{\#(m),"tools":[{"type":"function","function":{"name":"get weather"}}]}"#, "tools[0].function.name", "^[a-zA-Z0-9_-]{1,64}$")
        check(#"{\#(m),"tools":[{"type":"function","function":{"name":"\#(String(repeating: "a", count: 65))"}}]}"#, "tools[0].function.name", "pattern")
        check(#"{\#(m),"tools":[\#(Self.weather),\#(Self.weather)]}"#, "tools[1].function.name", "Duplicate")
        check(#"{\#(m),"tools":[{"type":"function","function":{"name":"a","parameters":[1]}}]}"#, "tools[0].function.parameters", "JSON Schema")
        check(#"{\#(m),"tools":[\#(Self.weather)],"tool_choice":{"type":"function","function":{"name":"get_time"}}}"#, "tool_choice", "get_time")
        check(#"{\#(m),"tool_choice":"required"}"#, "tool_choice", "only allowed when 'tools' are specified")
        check(#"{\#(m),"tool_choice":{"type":"function","function":{"name":"a"}}}"#, "tool_choice", "only allowed when 'tools' are specified")
        check(#"{"model":"m","messages":[\#(Self.user),{"role":"tool","content":"x"}]}"#, "messages[1].tool_call_id", "must have a 'tool_call_id'")
        check(#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"a","arguments":"{}"}}]}]}"#,
              "messages[0].tool_calls[0].id", "Missing required parameter")
        // Not a list of functions, or a tool_choice of no known shape: refused while decoding.
        #expect(throws: (any Error).self) { try chat(#"{\#(m),"tools":{"type":"function"}}"#) }
        #expect(throws: InvalidField.self) { try chat(#"{\#(m),"tools":[\#(Self.weather)],"tool_choice":"sometimes"}"#) }
    }

    @Test func forcedCallsForAGrammarEngine() throws {
        let time = #"{"type":"function","function":{"name":"get_time"}}"#
        func request(_ choice: String) throws -> ChatCompletionRequest {
            try chat(#"{"model":"m","messages":[\#(Self.user)],"tools":[\#(Self.weather),\#(time)],"tool_choice":\#(choice)}"#)
        }
        #expect(try request(#""auto""#).requiredToolCall(family: .hermes) == nil)
        #expect(try request(#""none""#).requiredToolCall(family: .hermes) == nil)
        let any = try #require(try request(#""required""#).requiredToolCall(family: .hermes))
        #expect(any.count == 1 && any[0].schema["anyOf"]?.arrayValue?.count == 2)
        let named = try #require(try request(#"{"type":"function","function":{"name":"get_weather"}}"#).requiredToolCall(family: .hermes))
        #expect(named == [ToolCallConstraint(prefix: "<tool_call>\n", schema: [
            "type": "object",
            "properties": ["name": ["const": "get_weather"], "arguments": ["type": "object", "properties": ["city": ["type": "string"]]]],
            "required": ["name", "arguments"]], suffix: "\n</tool_call>")])
        let mistral = try #require(try request(#""required""#).requiredToolCall(family: .mistralArgs))
        #expect(mistral.map(\.prefix) == ["[TOOL_CALLS]get_weather[ARGS]", "[TOOL_CALLS]get_time[ARGS]"])
    }

    @Test func toolsKeepTheirKeysAndOrder() throws {
        // The request decoder's snake_case strategy would rename `max_days` and lose the order of keys.
        let r = try chat(#"{"model":"m","messages":[\#(Self.user)],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"max_days":{"type":"integer"},"a_b":{"type":"string"}},"additionalProperties":false}}}]}"#)
        let text = try #require(r.templateTools?.first).jsonText()
        #expect(text == #"{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"max_days":{"type":"integer"},"a_b":{"type":"string"}},"additionalProperties":false}}}"#)
        #expect(r.toolFunctions.map(\.name) == ["f"])
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let template: String
        let request: String
        let record: Value
        var testDescription: String { "\(template) / \(request)" }
    }

    static func cases() throws -> [Case] {
        let text = try String(contentsOf: fixtures.appendingPathComponent("tool_requests.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let record = try Value(json: String(line))
            return Case(template: try #require(record["template"]?.stringValue), request: try #require(record["request"]?.stringValue), record: record)
        }
    }

    @Test(arguments: try cases())
    func rendersLikeJinja2(_ fixture: Case) throws {
        guard case .dict(var body)? = fixture.record["body"] else { Issue.record("no body"); return }
        body["model"] = "m"
        let request = try ChatCompletionRequest.decode(body: Data(try Value.dict(body).jsonText().utf8))
        try request.validate()
        let source = try String(contentsOf: Self.fixtures.appendingPathComponent(fixture.template), encoding: .utf8)
        let template = try ChatTemplate(source: source, options: RenderOptions(
            now: { Date(timeIntervalSince1970: 1_741_944_413) }, timeZone: TimeZone(identifier: "UTC")!))
        let render = {
            try template.render(messages: request.chatMessages.map(\.templateValue), tools: request.templateTools,
                                addGenerationPrompt: true, bosToken: "<|bos|>", eosToken: "<|eos|>")
        }
        if let expected = fixture.record["output"]?.stringValue {
            #expect(try render() == expected)
        } else if let message = fixture.record["error"]?["message"]?.stringValue {
            let thrown = #expect(throws: TemplateError.self) { try render() }
            #expect(thrown?.message == message)
        } else {
            Issue.record("fixture has neither an output nor an error")
        }
    }

    @Test func templatesThatTakeTools() throws {
        func source(_ name: String) throws -> String { try String(contentsOf: Self.fixtures.appendingPathComponent(name), encoding: .utf8) }
        #expect(ToolCallFamily.templateTakesTools(try source("Qwen-Qwen2.5-7B-Instruct.jinja")))
        #expect(!ToolCallFamily.templateTakesTools(try source("HuggingFaceTB-SmolLM2-135M-Instruct.jinja")))
        #expect(!ToolCallFamily.templateTakesTools(try source("google-gemma-3-4b-it.jinja")))
        #expect(!ToolCallFamily.templateTakesTools("{{ my_tools }}{{ toolset }}"))
        #expect(ToolCallFamily.detect(templateSource: try source("Qwen-Qwen2.5-7B-Instruct.jinja")) == .hermes)
        #expect(ToolCallFamily.detect(templateSource: try source("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")) == .hermes)
        #expect(ToolCallFamily.detect(templateSource: try source("meta-llama-Llama-3.2-3B-Instruct.jinja")) == .llama3)
        #expect(ToolCallFamily.detect(templateSource: try source("meta-llama-Llama-3.3-70B-Instruct.jinja")) == .llama3)
        #expect(ToolCallFamily.detect(templateSource: try source("mistralai-Mistral-Nemo-Instruct-2407.jinja")) == .mistral)
        #expect(ToolCallFamily.detect(templateSource: try source("HuggingFaceTB-SmolLM2-135M-Instruct.jinja")) == nil)
    }
}
