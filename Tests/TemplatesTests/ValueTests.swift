import Foundation
import Testing
@testable import Templates

/// Python `str()`/`repr()` of values and the order-keeping JSON reader.
struct ValueTests {
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

    @Test func tojsonMatchesPythonJSONDumps() throws {
        let value: Value = ["a": [1, 2.5, .none, true], "é": "\u{1}\"\\\n", "e": [:]]
        #expect(try JSONDumper().dump(value) == #"{"a": [1, 2.5, null, true], "é": "\u0001\"\\\n", "e": {}}"#)
        var indented = JSONDumper()
        indented.indent = "  "
        indented.itemSeparator = ","
        #expect(try indented.dump(["k": [1]]) == "{\n  \"k\": [\n    1\n  ]\n}")
        var ascii = JSONDumper()
        ascii.ensureASCII = true
        #expect(try ascii.dump("é😀") == #""\u00e9\ud83d\ude00""#)
        #expect(throws: TemplateError.self) { try JSONDumper().dump(.undefined("x")) }
    }
}
