import Foundation
import Testing
@testable import Templates

/// One feature per template, each compared with jinja2's rendering (Tests/Fixtures/templates/snippets.jsonl).
struct SnippetTests {
    struct Snippet: CustomTestStringConvertible, Sendable {
        let id: String
        let source: String
        let context: [String: Value]
        let output: String?
        let errorType: String?
        let errorMessage: String?
        var testDescription: String { id }
    }

    /// Deliberate departures from jinja2: the sandbox refuses `__dunder__` attributes with an error,
    /// where jinja2 returns an undefined that prints as empty.
    static let stricterThanJinja2: Set<String> = ["sandbox_dunder"]

    static func load() throws -> [Snippet] {
        let text = try String(contentsOf: ConformanceTests.fixtures.appendingPathComponent("snippets.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard case .dict(let d) = try Value(json: String(line)), case .string(let id)? = d["id"],
                  case .string(let source)? = d["template"], case .dict(let context)? = d["context"]
            else { throw TemplateError(.json, "bad snippet line") }
            var errorType: String? = nil, errorMessage: String? = nil, output: String? = nil
            if case .string(let o)? = d["output"] { output = o }
            if case .dict(let e)? = d["error"], case .string(let t)? = e["type"], case .string(let m)? = e["message"] {
                errorType = t
                errorMessage = m
            }
            return Snippet(id: id, source: source, context: Dictionary(uniqueKeysWithValues: context.pairs),
                           output: output, errorType: errorType, errorMessage: errorMessage)
        }
    }

    @Test(arguments: try load())
    func rendersLikeJinja2(_ snippet: Snippet) throws {
        let render = {
            try Template(source: snippet.source).render(context: snippet.context, options: ConformanceTests.options)
        }
        if Self.stricterThanJinja2.contains(snippet.id) {
            let error = #expect(throws: TemplateError.self) { try render() }
            #expect(error?.kind == .security)
        } else if let output = snippet.output {
            let actual = try render()
            #expect(actual == output)
        } else {
            let error = #expect(throws: TemplateError.self) { try render() }
            if snippet.errorType == "TemplateError" {
                #expect(error?.kind == .raised)
                #expect(error?.message == snippet.errorMessage)
            }
            if snippet.errorType == "TemplateSyntaxError" {
                #expect(error?.kind == .syntax)
                #expect(error?.line != nil && error?.column != nil)
            }
        }
    }
}
