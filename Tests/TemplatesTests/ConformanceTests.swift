import Foundation
import Testing
@testable import Templates

/// Renders every committed chat template on every fixture conversation and compares with jinja2's
/// output, byte for byte (Tests/Fixtures/templates/expected.jsonl, from scripts/oracle/template_fixtures.py).
struct ConformanceTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/templates")

    /// The oracle's strftime_now date: 2025-03-14 09:26:53.
    static let options = RenderOptions(
        now: { Date(timeIntervalSince1970: 1_741_944_413) }, timeZone: TimeZone(identifier: "UTC")!)

    struct Case: CustomTestStringConvertible, Sendable {
        let template: String
        let conversation: String
        let addGenerationPrompt: Bool
        let expected: Value
        var testDescription: String { "\(template) / \(conversation) / agp=\(addGenerationPrompt)" }
    }

    static func loadCases() throws -> [Case] {
        let text = try String(contentsOf: fixtures.appendingPathComponent("expected.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let record = try Value(json: String(line))
            guard case .dict(let d) = record, case .string(let template)? = d["template"],
                  case .string(let conversation)? = d["conversation"], case .bool(let agp)? = d["add_generation_prompt"]
            else { throw TemplateError(.json, "bad fixture line") }
            return Case(template: template, conversation: conversation, addGenerationPrompt: agp, expected: record)
        }
    }

    static func conversations() throws -> [String: (messages: [Value], tools: [Value]?)] {
        let text = try String(contentsOf: fixtures.appendingPathComponent("conversations.json"), encoding: .utf8)
        guard case .array(let items) = try Value(json: text) else { throw TemplateError(.json, "bad conversations.json") }
        var result: [String: (messages: [Value], tools: [Value]?)] = [:]
        for item in items {
            guard case .dict(let d) = item, case .string(let id)? = d["id"], case .array(let messages)? = d["messages"] else { continue }
            var tools: [Value]? = nil
            if case .array(let t)? = d["tools"] { tools = t }
            result[id] = (messages, tools)
        }
        return result
    }

    @Test(arguments: try loadCases())
    func rendersLikeJinja2(_ fixture: Case) throws {
        let conversation = try #require(try Self.conversations()[fixture.conversation])
        let source = try String(contentsOf: Self.fixtures.appendingPathComponent(fixture.template), encoding: .utf8)
        let template = try ChatTemplate(source: source, options: Self.options)
        let render = {
            try template.render(messages: conversation.messages, tools: conversation.tools,
                                addGenerationPrompt: fixture.addGenerationPrompt, bosToken: "<|bos|>", eosToken: "<|eos|>")
        }
        guard case .dict(let expected) = fixture.expected else {
            Issue.record("fixture \(fixture.template) × \(fixture.conversation) has no expected object")
            return
        }
        if case .string(let output)? = expected["output"] {
            let actual = try render()
            #expect(actual == output)
        } else if case .dict(let error)? = expected["error"] {
            let thrown = #expect(throws: TemplateError.self) { try render() }
            // raise_exception messages must match exactly; Python's own TypeErrors only have to raise.
            if case .string("TemplateError")? = error["type"], case .string(let message)? = error["message"] {
                #expect(thrown?.kind == .raised)
                #expect(thrown?.message == message)
            }
        } else {
            Issue.record("fixture \(fixture.template) × \(fixture.conversation) has neither an output nor an error: nothing to check")
        }
    }

    @Test func everyTemplateIsCovered() throws {
        let cases = try Self.loadCases()
        let templates = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".jinja") }
        #expect(Set(cases.map(\.template)) == Set(templates))
        #expect(templates.count >= 9)
    }
}
