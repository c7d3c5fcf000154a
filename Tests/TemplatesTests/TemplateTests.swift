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
}
