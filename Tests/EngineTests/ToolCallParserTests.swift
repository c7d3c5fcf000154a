import Engine
import Templates
import Testing

/// Tool calls read back from replies, for each template family: whole replies, the same replies
/// streamed a character at a time, malformed calls (plain content, never a crash), and the
/// constraint shapes a grammar engine will force calls with.
struct ToolCallParserTests {
    static func parser(_ family: ToolCallFamily) -> ToolCallParser { ToolCallParser(family: family, makeID: { "call_test" }) }

    /// `reply` fed in pieces of `size` characters: the content sent and the calls at the end.
    static func streamed(_ family: ToolCallFamily, _ reply: String, size: Int = 1) -> (content: String, calls: [ToolCall]) {
        var stream = ToolCallStream(parser: parser(family))
        var content = "", calls: [ToolCall] = []
        var i = reply.startIndex
        while i < reply.endIndex {
            let j = reply.index(i, offsetBy: size, limitedBy: reply.endIndex) ?? reply.endIndex
            let out = stream.feed(String(reply[i..<j]))
            (content, calls) = (content + out.content, calls + out.calls)
            i = j
        }
        let (rest, last) = stream.finish()
        return (content + rest, calls + last)
    }

    static func call(_ name: String, _ arguments: String) -> ToolCall { ToolCall(id: "call_test", name: name, arguments: arguments) }

    /// Whole and streamed (in pieces of 1, 3 and 7 characters) parses agree with the expected result.
    func expect(_ family: ToolCallFamily, _ reply: String, content: String, calls: [ToolCall], sourceLocation: SourceLocation = #_sourceLocation) {
        let whole = Self.parser(family).parse(reply)
        #expect(whole.content == content, sourceLocation: sourceLocation)
        #expect(whole.calls == calls, sourceLocation: sourceLocation)
        for size in [1, 3, 7] {
            let s = Self.streamed(family, reply, size: size)
            #expect(s.calls == calls, "streamed by \(size)", sourceLocation: sourceLocation)
            // Streamed content keeps the text before a call as it went out (untrimmed).
            #expect(s.content.trimmingCharacters(in: .whitespacesAndNewlines) == content.trimmingCharacters(in: .whitespacesAndNewlines),
                    "streamed by \(size)", sourceLocation: sourceLocation)
        }
    }

    @Test func hermes() {
        expect(.hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n</tool_call>",
               content: "", calls: [Self.call("get_weather", #"{"city":"Zürich","unit":"celsius"}"#)])
        expect(.hermes, "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": [1, 2.5, null]}}\n</tool_call>",
               content: "Let me check.", calls: [Self.call("a", "{}"), Self.call("b", #"{"x":[1,2.5,null]}"#)])
        // Arguments as a string of JSON; a last block cut off before its closing tag.
        expect(.hermes, "<tool_call>\n{\"name\": \"a\", \"arguments\": \"{\\\"k\\\": 1}\"}", content: "", calls: [Self.call("a", #"{"k": 1}"#)])
        // No call, a call of bad JSON, a bad name, arguments that are not an object: the reply as it is, as content.
        for reply in ["Just text, no <tool_call.", "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": }\n</tool_call>",
                      "<tool_call>\n{\"name\": \"no spaces allowed\", \"arguments\": {}}\n</tool_call>",
                      "<tool_call>\n{\"name\": \"a\", \"arguments\": [1]}\n</tool_call>", "<tool_call>", "<tool_call>\n{\"arguments\": {}}\n</tool_call>",
                      "x <tool_call>{\"name\": \"a\"} trailing</tool_call>"] {
            expect(.hermes, reply, content: reply, calls: [])
        }
    }

    @Test func llama3() {
        expect(.llama3, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", content: "",
               calls: [Self.call("get_weather", #"{"city":"Paris"}"#)])
        expect(.llama3, "\n<|python_tag|>{\"type\": \"function\", \"name\": \"a\", \"parameters\": {}}", content: "", calls: [Self.call("a", "{}")])
        expect(.llama3, "{\"name\": \"a\", \"parameters\": {\"q\": \"}{\"}}; {\"name\": \"b\", \"arguments\": {}}", content: "",
               calls: [Self.call("a", #"{"q":"}{"}"#), Self.call("b", "{}")])
        expect(.llama3, "Sure.<|python_tag|>{\"name\": \"a\", \"parameters\": {}}", content: "Sure.", calls: [Self.call("a", "{}")])
        for reply in ["The answer is {\"name\": \"a\"}", "{\"name\": \"a\", \"parameters\": {} ", "{\"city\": \"Paris\"}", "{\"name\": \"a\"} and more",
                      "Plain reply.", "<|python_tag|>print(1)"] {
            expect(.llama3, reply, content: reply, calls: [])
        }
    }

    @Test func mistral() {
        expect(.mistral, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}, \"id\": \"abcDEF123\"}, {\"name\": \"b\", \"arguments\": {}}]",
               content: "", calls: [ToolCall(id: "abcDEF123", name: "get_weather", arguments: #"{"city":"Rome"}"#), Self.call("b", "{}")])
        expect(.mistral, "Calling.[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"k\": true}}]", content: "Calling.", calls: [Self.call("a", #"{"k":true}"#)])
        expect(.mistralArgs, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Rome\"}", content: "", calls: [Self.call("get_weather", #"{"city":"Rome"}"#)])
        expect(.mistralArgs, "[TOOL_CALLS]a[ARGS]{}[TOOL_CALLS]b[ARGS]{\"n\": 1}", content: "", calls: [Self.call("a", "{}"), Self.call("b", #"{"n":1}"#)])
        for reply in ["[TOOL_CALLS]", "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}", "[TOOL_CALLS]bad name[ARGS]{}", "[TOOL_CALLS]a[ARGS][1]",
                      "[TOOL_CALLS]just text", "[TOOL_CALLS][{\"arguments\": {}}]", "No tools needed."] {
            expect(.mistral, reply, content: reply, calls: [])
        }
    }

    @Test func streamingHoldsBackOnlyWhatCouldStartAMarker() {
        var s = ToolCallStream(parser: Self.parser(.hermes))
        #expect(s.feed("Hello <tool") == ("Hello ", []))
        #expect(s.feed("box>") == ("<toolbox>", []))  // not a marker after all: sent
        #expect(s.feed(" <tool_c") == (" ", []))
        #expect(s.feed("all>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_") == ("", []))
        // A Hermes call goes out when its block closes; whitespace between calls is not content.
        #expect(s.feed("call>\n<tool_call>\n{\"name\": \"g\", ") == ("", [Self.call("f", "{}")]))
        #expect(s.feed("\"arguments\": {\"x\": 1}}\n</tool_call>\n") == ("", [Self.call("g", #"{"x":1}"#)]))
        #expect(s.finish() == ("", []))
        // A block that does not parse waits for the end and goes out as content.
        var bad = ToolCallStream(parser: Self.parser(.hermes))
        #expect(bad.feed("<tool_call>{\"name\": 1}</tool_call> ok") == ("", []))
        #expect(bad.finish() == ("<tool_call>{\"name\": 1}</tool_call> ok", []))
        // A Llama 3 reply that is text streams at once; one starting with "{" is held to the end.
        var l = ToolCallStream(parser: Self.parser(.llama3))
        #expect(l.feed("  ") == ("", []))
        #expect(l.feed("It is") == ("  It is", []))
        #expect(l.feed(" {\"a\": 1}") == (" {\"a\": 1}", []))
        var j = ToolCallStream(parser: Self.parser(.llama3))
        #expect(j.feed(" {\"name\"") == ("", []))
        #expect(j.feed(": 1") == ("", []))
        #expect(j.finish() == (" {\"name\": 1", []))
    }

    @Test func callIDs() {
        let id = ToolCall.newID()
        #expect(id.hasPrefix("call_") && id.count == 29 && id.dropFirst(5).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(ToolCall.newID() != id)
        // Mistral's templates take only 9 letters and digits.
        #expect(ToolCallParser(family: .mistral).parse("[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}]").calls[0].id.count == 9)
        #expect(ToolCallParser(family: .hermes).parse("<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>").calls[0].id.hasPrefix("call_"))
    }

    @Test func constraintsForAGrammarEngine() throws {
        let weather = ToolFunction(name: "get_weather", parameters: ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]])
        let time = ToolFunction(name: "get_time")
        let hermes = ToolCallFamily.hermes.callConstraints(tools: [weather, time])
        #expect(hermes.count == 1 && hermes[0].prefix == "<tool_call>\n" && hermes[0].suffix == "\n</tool_call>")
        #expect(try hermes[0].schema.jsonText() == #"{"anyOf":[{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},"required":["name","arguments"]},{"type":"object","properties":{"name":{"const":"get_time"},"arguments":{"type":"object"}},"required":["name","arguments"]}]}"#)
        let llama = ToolCallFamily.llama3.callConstraints(tools: [time])
        #expect(try llama[0].schema.jsonText() == #"{"type":"object","properties":{"name":{"const":"get_time"},"parameters":{"type":"object"}},"required":["name","parameters"]}"#)
        #expect(llama[0].prefix == "" && llama[0].suffix == "")
        let mistral = ToolCallFamily.mistral.callConstraints(tools: [time])
        #expect(mistral[0].prefix == "[TOOL_CALLS]" && mistral[0].schema["type"] == "array")
        let args = ToolCallFamily.mistralArgs.callConstraints(tools: [weather, time])
        #expect(args.map(\.prefix) == ["[TOOL_CALLS]get_weather[ARGS]", "[TOOL_CALLS]get_time[ARGS]"])
        #expect(args[0].schema == weather.parameters)
        // A call written to a constraint parses back as that call.
        let written = hermes[0].prefix + #"{"name": "get_weather", "arguments": {"city": "Oslo"}}"# + hermes[0].suffix
        #expect(Self.parser(.hermes).parse(written).calls == [Self.call("get_weather", #"{"city":"Oslo"}"#)])
    }

    @Test func messagesAsTemplatesSeeThem() throws {
        let plain = ChatMessage(role: "user", content: "hi").templateValue
        #expect(plain == ["role": "user", "content": "hi"])
        if case .dict(let d) = plain { #expect(d.keys == ["role", "content"]) }  // no tool_calls key: templates test `'tool_calls' in message`
        let call = ChatMessage(role: "assistant", content: "", toolCalls: [ToolCall(id: "c1", name: "f", arguments: #"{"b": 1, "a": [2]}"#)]).templateValue
        #expect(call["content"] == Value.none)
        let arguments = call["tool_calls"]?.arrayValue?[0]["function"]?["arguments"]
        #expect(try arguments?.jsonText() == #"{"b":1,"a":[2]}"#)  // parsed, order kept
        let odd = ChatMessage(role: "assistant", content: "x", toolCalls: [ToolCall(id: "c1", name: "f", arguments: "not json")]).templateValue
        #expect(odd["content"] == "x" && odd["tool_calls"]?.arrayValue?[0]["function"]?["arguments"] == "not json")
        let result = ChatMessage(role: "tool", content: "42", toolCallID: "c1", name: "f").templateValue
        #expect(result["tool_call_id"] == "c1" && result["name"] == "f")
    }
}
