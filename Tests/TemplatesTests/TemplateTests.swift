import Foundation
import Testing
@testable import Templates

struct TemplateTests {
    @Test func syntaxErrorsCarryLineAndColumn() throws {
        let error = #expect(throws: TemplateError.self) { try Template(source: "ok\nline two {{ 1 + }}") }
        #expect(error?.kind == .syntax)
        #expect(error?.line == 2)
        #expect(error?.column == 17)
        #expect(error?.description == "template error at line 2, column 17: unexpected 'end of print statement'")
    }

    @Test func unclosedBlockNamesWhatIsMissing() throws {
        let error = #expect(throws: TemplateError.self) { try Template(source: "{% for x in xs %}\n{{ x }}") }
        #expect(error?.kind == .syntax)
        #expect(error?.message.contains("endfor") == true)
    }

    @Test func unterminatedTagsAndStrings() {
        #expect(throws: TemplateError.self) { try Template(source: "{{ x ") }
        #expect(throws: TemplateError.self) { try Template(source: "{{ 'abc }}") }
        #expect(throws: TemplateError.self) { try Template(source: "{# never closed") }
        #expect(throws: TemplateError.self) { try Template(source: "{% raw %} no end") }
        #expect(throws: TemplateError.self) { try Template(source: "{{ (1 }}") }
    }

    @Test func runtimeErrorsCarryTheLine() throws {
        let template = try Template(source: "a\nb\n{{ missing.attribute }}")
        let error = #expect(throws: TemplateError.self) { try template.render(context: [:]) }
        #expect(error?.kind == .undefined)
        #expect(error?.line == 3)
        #expect(error?.message == "'missing' is undefined")
    }

    @Test func raiseExceptionGivesTheMessage() throws {
        let template = try ChatTemplate(source: "{{ raise_exception('Only user and assistant roles are supported!') }}")
        let error = #expect(throws: TemplateError.self) { try template.render(messages: [Value]()) }
        #expect(error == TemplateError(.raised, "Only user and assistant roles are supported!"))
        #expect(error?.description == "template error: Only user and assistant roles are supported!")
    }

    @Test func strftimeNowUsesTheInjectedClock() throws {
        let options = RenderOptions(now: { Date(timeIntervalSince1970: 0) }, timeZone: TimeZone(identifier: "UTC")!)
        let template = try ChatTemplate(source: "{{ strftime_now('%d %b %Y') }}", options: options)
        #expect(try template.render(messages: [Value]()) == "01 Jan 1970")
    }

    @Test func chatTemplateContext() throws {
        let source = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
            + "{% if add_generation_prompt %}<assistant>{% endif %}{{ tools is none }}{{ documents is none }}{{ extra_var }}"
        let template = try ChatTemplate(source: source)
        let text = try template.render(messages: [["role": "user", "content": "hi"]], addGenerationPrompt: true,
                                       bosToken: "<s>", eosToken: "</s>", extra: ["extra_var": "!"])
        #expect(text == "<s><user>hi<assistant>TrueTrue!")
    }

    @Test func toolsAreDumpedInTheirJSONKeyOrder() throws {
        let tool = try Value(json: #"{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2.0}}}"#)
        let template = try ChatTemplate(source: "{% for t in tools %}{{ t | tojson }}{% endfor %}")
        let text = try template.render(messages: [Value](), tools: [tool])
        #expect(text == #"{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2.0}}}"#)
    }

    @Test func dictionaryLiteralsKeepOrder() throws {
        let value: Value = ["b": 1, "a": [true, .none, 1.5, "x"]]
        #expect(value.pythonString == "{'b': 1, 'a': [True, None, 1.5, 'x']}")
    }

    @Test func jsonParsing() throws {
        let value = try Value(json: #" {"s": "a\"b\\c\u00e9\ud83d\ude00", "n": -12, "f": 1e3, "l": [], "o": {}, "t": true, "z": null} "#)
        #expect(value == ["s": "a\"b\\cé😀", "n": -12, "f": 1000.0, "l": [], "o": [:], "t": true, "z": .none])
        #expect(throws: TemplateError.self) { try Value(json: "{\"a\": }") }
        #expect(throws: TemplateError.self) { try Value(json: "[1, 2") }
        #expect(throws: TemplateError.self) { try Value(json: #""\ud800\u0041""#) }
        #expect(throws: TemplateError.self) { try Value(json: String(repeating: "[", count: 10000)) }
    }

    @Test(arguments: [
        (0.1, "0.1"), (1.0, "1.0"), (1e16, "1e+16"), (9999999999999998.0, "9999999999999998.0"), (1e-5, "1e-05"),
        (0.0001, "0.0001"), (123.456, "123.456"), (-2.5e-7, "-2.5e-07"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"), (.infinity, "inf"), (-0.0, "-0.0"),
    ])
    func floatsPrintLikePython(_ value: Double, _ expected: String) {
        #expect(formatPythonFloat(value) == expected)
    }

    @Test func pythonStringReprChoosesQuotes() {
        #expect(pythonStringRepr("it's") == "\"it's\"")
        #expect(pythonStringRepr("a'b\"c") == "'a\\'b\"c'")
        #expect(pythonStringRepr("\u{7f}\u{a0}é") == "'\\x7f\\xa0é'")
    }
}
