import Testing
@testable import Templates

struct LexerTests {
    @Test func tokensCarryLineAndColumn() throws {
        let tokens = try Lexer.tokenize("ab\n  {{ x.y }}")
        #expect(tokens.map(\.kind) == [.text("ab\n  "), .variableBegin, .name("x"), .op("."), .name("y"), .variableEnd, .end])
        #expect(tokens[1].line == 2 && tokens[1].column == 3)
        #expect(tokens[2].line == 2 && tokens[2].column == 6)
    }

    @Test func blockTagsTrimAndLstrip() throws {
        // trim_blocks eats the newline after %}, lstrip_blocks the indentation before {%.
        let tokens = try Lexer.tokenize("a\n    {% if x %}\n    b\n")
        #expect(tokens.map(\.kind) == [.text("a\n"), .blockBegin, .name("if"), .name("x"), .blockEnd, .text("    b"), .end])
    }

    @Test func closingBracesInsideDictsDoNotEndTheTag() throws {
        let tokens = try Lexer.tokenize("{{ {'a': {'b': 1}} }}")
        #expect(tokens.filter { $0.kind == .variableEnd }.count == 1)
        #expect(tokens.last?.kind == .end)
    }

    @Test func stringLiteralsDecodePythonEscapes() throws {
        let tokens = try Lexer.tokenize(#"{{ 'a\tb\u00e9\x41\101\q\\#n' }}"#)  // ends in a backslash-newline continuation
        #expect(tokens[1].kind == .string("a\tbéAA\\q"))
    }

    @Test func numbers() throws {
        let kinds = try Lexer.tokenize("{{ 1_000 2.5 1e3 7 }}").map(\.kind)
        #expect(kinds.contains(.integer(1000)) && kinds.contains(.float(2.5)) && kinds.contains(.float(1000)) && kinds.contains(.integer(7)))
    }

    @Test func unbalancedBracketsAreSyntaxErrors() {
        let error = #expect(throws: TemplateError.self) { try Lexer.tokenize("{{ (1] }}") }
        #expect(error?.kind == .syntax)
        #expect(error?.message == "unexpected ']', expected ')'")
    }
}
