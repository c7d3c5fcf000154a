import Foundation
import OpenAIWire
import Templates
import Testing

/// The wire types against the API's JSON: snake_case requests, the shapes a field may take, answers
/// from servers that send less than OpenAI, and log-probabilities written at f32 precision.
struct OpenAIWireTests {
    func object(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

    @Test func requestsTravelInSnakeCase() throws {
        var r = ChatCompletionRequest(model: "m", messages: [.init(role: "user", content: "hi")])
        (r.maxTokens, r.streamOptions, r.ignoreEos, r.stop) = (5, .init(includeUsage: true), true, StopSequences(["a"]))
        let o = try object(try OpenAIJSON.requestEncoder().encode(r))
        #expect(o["max_tokens"] as? Int == 5)
        #expect((o["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(o["ignore_eos"] as? Bool == true)
        #expect(o["stop"] as? [String] == ["a"])
        #expect(o["temperature"] == nil)  // unset fields are not sent
        #expect((o["messages"] as? [[String: String]]) == [["role": "user", "content": "hi"]])
        let back = try OpenAIJSON.requestDecoder().decode(ChatCompletionRequest.self, from: try OpenAIJSON.requestEncoder().encode(r))
        #expect(back.maxTokens == 5 && back.streamOptions?.includeUsage == true && back.messages[0].content?.text == "hi")
    }

    @Test func promptsTakeEveryShapeAndOneIsSentAlone() throws {
        func prompts(_ json: String) throws -> [PromptInput] {
            try OpenAIJSON.requestDecoder().decode(CompletionRequest.self, from: Data(#"{"model":"m","prompt":\#(json)}"#.utf8)).prompt.items
        }
        guard case .text("a") = try prompts(#""a""#)[0] else { Issue.record("string"); return }
        guard case .tokens([1, 2]) = try prompts("[1,2]")[0] else { Issue.record("token ids"); return }
        #expect(try prompts(#"["a","b"]"#).count == 2)
        guard case .tokens([3]) = try prompts("[[1],[3]]")[1] else { Issue.record("lists of token ids"); return }
        #expect(throws: InvalidField.self) { try prompts(#"[1,"a"]"#) }
        let sent = try object(try OpenAIJSON.requestEncoder().encode(CompletionRequest(model: "m", prompt: "hello")))
        #expect(sent["prompt"] as? String == "hello")
    }

    @Test func messageContentKeepsTextPartsAndRefusesOthers() throws {
        func content(_ json: String) throws -> String? {
            try JSONDecoder().decode(ChatCompletionRequest.Message.self, from: Data(#"{"role":"user","content":\#(json)}"#.utf8)).content?.text
        }
        #expect(try content(#"[{"type":"text","text":"a"},{"type":"text","text":"b"}]"#) == "ab")
        #expect(try content(#""hi""#) == "hi")
        #expect(throws: InvalidField.self) { try content(#"[{"type":"image_url","image_url":{"url":"x"}}]"#) }
    }

    @Test func logprobsAreWrittenAtF32Precision() throws {
        let f: Float = -0.1
        let entry = ChatCompletionTokenLogprob(token: "a", logprob: Double(f), bytes: [97], topLogprobs: [])
        let text = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
        #expect(text.contains(#""logprob":-0.1"#))
        var legacy = CompletionLogprobs()
        (legacy.tokens, legacy.tokenLogprobs, legacy.topLogprobs, legacy.textOffset) = (["a", "b"], [nil, Double(f)], [nil, ["b": Double(f)]], [0, 1])
        let o = try object(try JSONEncoder().encode(legacy))
        #expect((o["token_logprobs"] as? [Any])?.first is NSNull)
        #expect(String(decoding: try JSONEncoder().encode(legacy), as: UTF8.self).contains("-0.1]"))
    }

    @Test func answersFromServersThatSendLessDecode() throws {
        let c = try JSONDecoder().decode(Completion.self, from: Data(#"{"choices":[{"text":"x","logprobs":{"tokens":["x"],"token_logprobs":[null],"top_logprobs":"odd"}}]}"#.utf8))
        #expect(c.choices[0].text == "x" && c.usage == nil && c.id == "")
        #expect(c.choices[0].logprobs?.tokenLogprobs == [nil] && c.choices[0].logprobs?.topLogprobs.isEmpty == true)
        let chat = try JSONDecoder().decode(ChatCompletion.self, from: Data(#"{"choices":[{"message":{"content":null}}]}"#.utf8))
        #expect(chat.choices[0].message.content == "" && chat.choices[0].message.role == "assistant")
        let chunk = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#.utf8))
        #expect(chunk.choices[0].delta.reasoningContent == "hm" && chunk.choices[0].finishReason == nil)
    }

    @Test func errorsNameEveryFieldAndReadBareStrings() throws {
        let body = ErrorResponse(error: .init(message: "no", type: "invalid_request_error"))
        let o = try object(try JSONEncoder().encode(body))
        #expect(Set((o["error"] as? [String: Any])?.keys ?? [:].keys) == ["message", "type", "param", "code"])
        #expect(try JSONDecoder().decode(ErrorResponse.self, from: Data(#"{"error":"boom"}"#.utf8)).error.message == "boom")
    }
    @Test func toolRequestFieldsDecode() throws {
        let json = #"""
            {"model":"m","tools":[{"type":"function","function":{"name":"f","description":"d","strict":true,
              "parameters":{"type":"object","properties":{"max_stops":{"type":"integer"},"b":{"type":"string"}},"additionalProperties":false}}}],
             "tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,
             "messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"b\":\"x\"}"}}]},
                         {"role":"assistant","tool_calls":[{"id":"c2","type":"function","function":{"name":"f","arguments":{"z":1,"a":2}}}]},
                         {"role":"tool","tool_call_id":"c1","name":"f","content":"ok"}]}
            """#
        let r = try ChatCompletionRequest.decode(body: Data(json.utf8))
        #expect(r.toolChoice == .function("f") && r.parallelToolCalls == false)
        let f = try #require(r.tools?.first?.function)
        #expect(f.name == "f" && f.description == "d" && f.strict == true)
        // Keys as sent, in their order: not renamed by the snake_case strategy, not sorted.
        #expect(try f.parameters?.jsonText() == #"{"type":"object","properties":{"max_stops":{"type":"integer"},"b":{"type":"string"}},"additionalProperties":false}"#)
        #expect(r.messages[0].content == nil && r.messages[0].toolCalls == [.init(id: "c1", function: .init(name: "f", arguments: #"{"b":"x"}"#))])
        #expect(r.messages[1].toolCalls?[0].function.arguments == #"{"z":1,"a":2}"#)  // an object sent as arguments becomes its text
        #expect(r.messages[2].toolCallId == "c1" && r.messages[2].name == "f")
        for (text, choice) in [(#""none""#, ChatCompletionRequest.ToolChoice.none), (#""auto""#, .auto), (#""required""#, .required)] {
            let c = try OpenAIJSON.requestDecoder().decode(ChatCompletionRequest.self, from: Data(#"{"model":"m","messages":[],"tool_choice":\#(text)}"#.utf8))
            #expect(c.toolChoice == choice)
            #expect(String(decoding: try JSONEncoder().encode(choice), as: UTF8.self) == text)
        }
        #expect(throws: InvalidField.self) {
            try OpenAIJSON.requestDecoder().decode(ChatCompletionRequest.self, from: Data(#"{"model":"m","messages":[],"tool_choice":"always"}"#.utf8))
        }
    }

    @Test func toolCallAnswersAndDeltas() throws {
        let call = ChatCompletionToolCall(id: "call_x", name: "f", arguments: #"{"a":1}"#)
        let o = try object(try JSONEncoder().encode(ChatCompletion.Message(content: "", toolCalls: [call])))
        #expect(o["content"] is NSNull)  // OpenAI sends null content with tool calls
        let calls = try #require(o["tool_calls"] as? [[String: Any]])
        #expect(calls[0]["id"] as? String == "call_x" && calls[0]["type"] as? String == "function")
        #expect((calls[0]["function"] as? [String: String]) == ["name": "f", "arguments": #"{"a":1}"#])
        let plain = try object(try JSONEncoder().encode(ChatCompletion.Message(content: "hi")))
        #expect(plain["content"] as? String == "hi" && plain["tool_calls"] == nil)
        let delta = ChatCompletionChunk.Delta(toolCalls: [.init(index: 0, id: "call_x", type: "function", function: .init(name: "f", arguments: ""))])
        let d = try object(try JSONEncoder().encode(delta))
        let first = try #require((d["tool_calls"] as? [[String: Any]])?.first)
        #expect(first["index"] as? Int == 0 && first["id"] as? String == "call_x" && (first["function"] as? [String: String])?["name"] == "f")
        let back = try JSONDecoder().decode(ChatCompletion.Message.self, from: try JSONEncoder().encode(ChatCompletion.Message(content: "", toolCalls: [call])))
        #expect(back.toolCalls == [call] && back.content == "")
    }

    @Test func jsonValuesRoundTripThroughCodable() throws {
        let v = try Value(json: #"{"b":[1,2.5,true,null,"s"],"a":{"c":-3}}"#)
        let back = try JSONDecoder().decode(Value.self, from: try JSONEncoder().encode(v))
        #expect(back == v)
        #expect(try back.jsonText(sortKeys: true) == #"{"a":{"c":-3},"b":[1,2.5,true,null,"s"]}"#)
    }

    @Test func embeddingRequestsTakeEveryInputShape() throws {
        func request(_ json: String) throws -> EmbeddingRequest {
            try OpenAIJSON.requestDecoder().decode(EmbeddingRequest.self, from: Data(json.utf8))
        }
        let r = try request(#"{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8,"user":"u"}"#)
        #expect(r.input.items.count == 2 && r.encodingFormat == "base64" && r.dimensions == 8)
        guard case .tokens([5, 6]) = try request(#"{"model":"m","input":[[1],[5,6]]}"#).input.items[1] else { Issue.record("token lists"); return }
        do {
            _ = try request(#"{"model":"m","input":{"a":1}}"#)
            Issue.record("an object is no input")
        } catch let e as InvalidField {
            #expect(e.param == "input" && e.message.hasPrefix("'input' must be"))
        }
        let sent = try object(try OpenAIJSON.requestEncoder().encode(EmbeddingRequest(model: "m", input: [.text("hi")], encodingFormat: "float")))
        #expect(sent["input"] as? String == "hi" && sent["encoding_format"] as? String == "float")
    }

    @Test func embeddingsGoOutAsNumbersOrLittleEndianFloat32Base64() throws {
        // 1.0 is 0x3F800000, -2.0 is 0xC0000000: little-endian bytes 00 00 80 3F, 00 00 00 C0.
        let packed = EmbeddingVector([1, -2], base64: true)
        #expect(packed == .base64(Data([0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]).base64EncodedString()))
        #expect(packed.values == [1, -2])
        let values: [Float] = [0.1, -3.5e-7, .pi]
        #expect(EmbeddingVector(values, base64: true).values == values)
        #expect(EmbeddingVector.base64("AAA=").values == nil)
        let answer = EmbeddingResponse(data: [.init(index: 0, embedding: .float([0.25, -1])), .init(index: 1, embedding: packed)],
                                       model: "m", usage: .init(promptTokens: 7))
        let o = try object(try JSONEncoder().encode(answer))
        #expect(o["object"] as? String == "list" && o["model"] as? String == "m")
        let data = try #require(o["data"] as? [[String: Any]])
        #expect(data[0]["object"] as? String == "embedding" && data[1]["index"] as? Int == 1)
        #expect(data[0]["embedding"] as? [Double] == [0.25, -1] && data[1]["embedding"] is String)
        #expect(o["usage"] as? [String: Int] == ["prompt_tokens": 7, "total_tokens": 7])
        let back = try JSONDecoder().decode(EmbeddingResponse.self, from: try JSONEncoder().encode(answer))
        #expect(back.data.map(\.embedding.values) == [[0.25, -1], [1, -2]])
    }
}
