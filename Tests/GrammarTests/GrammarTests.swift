import Foundation
import Grammar
import SeededRandom
import Templates
import Testing

/// Whether the whole of `text` is a complete match of `grammar`.
func matches(_ grammar: Grammar, _ text: String) -> Bool {
    let m = GrammarMatcher(grammar)
    return m.accept(Array(text.utf8)) && m.isAccepting
}

/// Whether `text` could begin a match (every byte allowed).
func isPrefix(_ grammar: Grammar, _ text: String) -> Bool {
    GrammarMatcher(grammar).accept(Array(text.utf8))
}

struct GrammarMatcherTests {
    @Test func literalsAlternativesAndRepetition() throws {
        var b = GrammarBuilder()
        let digit = GrammarElement.bytes(ByteSet(range: 0x30...0x39))
        let digits = b.repeated("digits", [digit], min: 1, max: 3)
        b.rule("root", [GrammarBuilder.literal("a") + digits, GrammarBuilder.literal("b"), [b.star("xs", GrammarBuilder.literal("x"))] + GrammarBuilder.literal("!")])
        let g = try b.build(root: "root")
        for ok in ["a1", "a12", "a123", "b", "!", "x!", "xxxxxxxx!"] { #expect(matches(g, ok), "\(ok)") }
        for bad in ["a", "a1234", "ab", "bb", "x", "y!", ""] { #expect(!matches(g, bad), "\(bad)") }
        #expect(isPrefix(g, "xxx") && !isPrefix(g, "xy"))
    }

    @Test func repetitionRunsInBoundedStateTables() throws {
        var b = GrammarBuilder()
        b.rule("root", [[b.star("xs", GrammarBuilder.literal("ab"))]])
        let m = GrammarMatcher(try b.build(root: "root"))
        for _ in 0..<10_000 { #expect(m.accept(Array("ab".utf8))) }
        #expect(m.isAccepting)
        // Right recursion is a tail call: the same two states over and over.
        #expect(m.stateCount <= 3)
    }

    @Test func nestingGrowsTheStackAndCompactionKeepsTheState() throws {
        var b = GrammarBuilder()
        let r = b.declare("root")
        b.define(r, [GrammarBuilder.literal("(") + [.rule(r)] + GrammarBuilder.literal(")"), []])
        let m = GrammarMatcher(try b.build(root: "root"))
        m.stateLimit = 50
        for _ in 0..<200 { #expect(m.accept([UInt8(ascii: "(")])) }
        #expect(m.stateCount <= 51)
        for _ in 0..<199 { #expect(m.accept([UInt8(ascii: ")")])) }
        #expect(!m.isAccepting)
        #expect(m.accept([UInt8(ascii: ")")]))
        #expect(m.isAccepting && !m.canContinue)
        #expect(!m.accept([UInt8(ascii: ")")]))
    }

    @Test func leftRecursionAndUndefinedRulesAreRefused() {
        var b = GrammarBuilder()
        let r = b.declare("root")
        let e = b.fresh("empty", [[]])
        b.define(r, [[e, .rule(r)] + GrammarBuilder.literal("x"), GrammarBuilder.literal("y")])
        #expect(throws: GrammarError.leftRecursive(rule: "root")) { try b.build(root: "root") }
        var c = GrammarBuilder()
        let missing = c.declare("missing")
        c.rule("root", [[.rule(missing)]])
        #expect(throws: GrammarError.undefinedRule("missing")) { try c.build(root: "root") }
    }

    @Test func utf8IsWellFormedOnly() throws {
        var b = GrammarBuilder()
        let ch = b.utf8NonASCII()
        b.rule("root", [[b.star("chars", [ch])]])
        let g = try b.build(root: "root")
        let m = GrammarMatcher(g)
        #expect(m.accept(Array("é€😀".utf8)) && m.isAccepting)
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xE2, 0x82]] {
            let m = GrammarMatcher(g)
            #expect(!(m.accept(bad) && m.isAccepting), "\(bad)")
        }
    }
}

struct JSONGrammarTests {
    let object = JSONGrammarBuilder.object()

    @Test func jsonModeAcceptsObjectsAndRefusesTheRest() {
        let valid = [
            #"{}"#, #"{"a": 1}"#, #"{"a":[1,2.5,-3e10,true,false,null,"x"],"b":{"c":{}}}"#,
            "{\n  \"name\": \"Ada\",\n  \"tags\": [\"x\", \"y\"]\n}", #"{"s": "tab\t? no: \\t, quote \", \u00e9 é 😀"}"#,
            #"{"n": 0}"#, #"{"n": -0.5}"#, #"{"n": 1E+3}"#, "{} ", "{}\n", "{}\n  ",
        ]
        for text in valid {
            #expect(matches(object, text), "\(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil, "the test's own sample must be JSON: \(text)")
        }
        let invalid = [
            #"[]"#, #""x""#, #"{"a": 1,}"#, #"{'a': 1}"#, #"{"a": 01}"#, #"{"a": NaN}"#, #"{"a": .5}"#, "{\"a\": \"\u{01}\"}",
            #"{"a": "\ud800"}"#, #"{"a" 1}"#, #"{"a": tru}"#, #" {}"#, #"{}  "#, "{}\n\n", #"{"a": 1}}"#, #"{"a": "x\q"}"#,
        ]
        for text in invalid { #expect(!matches(object, text), "\(text)") }
    }

    @Test func randomWalksThroughTheGrammarAreJSON() {
        // Every text the grammar completes parses as JSON: walk random allowed bytes, stop at acceptance.
        var complete = 0
        for seed in 0..<300 {
            var rng = SplitMix64(seed: UInt64(seed))
            let m = GrammarMatcher(object)
            var bytes: [UInt8] = []
            while bytes.count < 400 {
                if m.isAccepting { break }
                let options = (0...255).map { UInt8($0) }.filter { m.next(m.current, $0) >= 0 }
                guard let b = options.randomElement(using: &rng) else { break }
                // Prefer closing brackets and quotes a little so walks end.
                let pick = options.contains(0x7D) && Int.random(in: 0..<4, using: &rng) == 0 ? 0x7D : b
                m.accept([pick])
                bytes.append(pick)
            }
            guard m.isAccepting else { continue }
            complete += 1
            #expect((try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any], "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(complete > 50)
    }

    func schema(_ json: String) throws -> Grammar { try JSONGrammarBuilder.schema(try Value(json: json)) }

    @Test func objectsWithRequiredAndOptionalPropertiesInOrder() throws {
        let g = try schema(#"""
        {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": "string"}},
         "required": ["name", "email"], "additionalProperties": false}
        """#)
        for ok in [#"{"name": "A", "age": 3, "email": "a@b"}"#, #"{"name":"A","email":"e"}"#, #"{ "name": "", "email": "" }"#] {
            #expect(matches(g, ok), "\(ok)")
        }
        for bad in [#"{"name": "A"}"#, #"{"email": "e", "name": "A"}"#, #"{"name": "A", "age": 3.5, "email": "e"}"#,
                    #"{"name": "A", "email": "e", "x": 1}"#, #"{}"#, #"{"name": 1, "email": "e"}"#] {
            #expect(!matches(g, bad), "\(bad)")
        }
        let allOptional = try schema(#"{"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}}}"#)
        for ok in [#"{}"#, #"{"a": true}"#, #"{"b": null}"#, #"{"a": false, "b": null}"#] { #expect(matches(allOptional, ok), "\(ok)") }
        for bad in [#"{,"b": null}"#, #"{"a": true,}"#, #"{"b": null, "a": true}"#] { #expect(!matches(allOptional, bad), "\(bad)") }
    }

    @Test func enumsConstAnyOfArraysAndBounds() throws {
        let g = try schema(#"""
        {"type": "object", "properties": {
           "color": {"enum": ["red", "green", 3, null]},
           "kind": {"const": "fixed"},
           "value": {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 2}]},
           "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 2},
           "maybe": {"type": ["integer", "null"]}
         }, "required": ["color", "kind", "value", "tags", "maybe"]}
        """#)
        #expect(matches(g, #"{"color": "red", "kind": "fixed", "value": 2.5, "tags": ["a"], "maybe": null}"#))
        #expect(matches(g, #"{"color": 3, "kind": "fixed", "value": "ab", "tags": ["a", "bc"], "maybe": 7}"#))
        #expect(matches(g, #"{"color": null, "kind": "fixed", "value": -1, "tags": ["x"], "maybe": 0}"#))
        for bad in [
            #"{"color": "blue", "kind": "fixed", "value": 1, "tags": ["a"], "maybe": null}"#,
            #"{"color": "red", "kind": "other", "value": 1, "tags": ["a"], "maybe": null}"#,
            #"{"color": "red", "kind": "fixed", "value": "abc", "tags": ["a"], "maybe": null}"#,
            #"{"color": "red", "kind": "fixed", "value": 1, "tags": [], "maybe": null}"#,
            #"{"color": "red", "kind": "fixed", "value": 1, "tags": ["a", "b", "c"], "maybe": null}"#,
            #"{"color": "red", "kind": "fixed", "value": 1, "tags": [""], "maybe": null}"#,
            #"{"color": "red", "kind": "fixed", "value": 1, "tags": ["a"], "maybe": 1.5}"#,
        ] { #expect(!matches(g, bad), "\(bad)") }
    }

    @Test func recursiveReferences() throws {
        let g = try schema(#"""
        {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                            "required": ["v", "kids"]}},
         "$ref": "#/$defs/node"}
        """#)
        #expect(matches(g, #"{"v": 1, "kids": [{"v": 2, "kids": []}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]}"#))
        #expect(!matches(g, #"{"v": 1, "kids": [{"v": 2}]}"#))
    }

    @Test func schemasTheGrammarCannotEnforceAreRefused() throws {
        #expect(throws: JSONSchemaError.unsupported("the keyword 'pattern'", path: "/properties/a/pattern")) {
            try schema(#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "^x$"}}}"#)
        }
        #expect(throws: JSONSchemaError.unsupported("the keyword 'minimum'", path: "/minimum")) { try schema(#"{"type": "integer", "minimum": 3}"#) }
        #expect(throws: JSONSchemaError.unsupported("a $ref outside this schema ('http://x/y')", path: "/$ref")) {
            try schema(#"{"$ref": "http://x/y"}"#)
        }
        #expect(throws: JSONSchemaError.invalid("unknown type 'date'", path: "/type")) { try schema(#"{"type": "date"}"#) }
        #expect(throws: JSONSchemaError.invalid("$ref '#/$defs/nope' points at nothing", path: "/$ref")) { try schema(##"{"$ref": "#/$defs/nope"}"##) }
        #expect(throws: (any Error).self) { try schema(##"{"$ref": "#"}"##) }  // left recursion
        #expect(throws: JSONSchemaError.unsupported("maxLength above 4096", path: "")) { try schema(#"{"type": "string", "maxLength": 100000}"#) }
        // Every refusal reads as a sentence naming the place.
        let message = String(describing: JSONSchemaError.unsupported("the keyword 'pattern'", path: "/properties/a/pattern"))
        #expect(message == "the keyword 'pattern' (at /properties/a/pattern) cannot be enforced by the output grammar")
    }

    @Test func emptySchemaIsAnyValue() throws {
        let g = try schema("{}")
        for ok in [#"1"#, #""s""#, #"[1, {"a": null}]"#, #"null"#, #"{"x": true}"#] { #expect(matches(g, ok), "\(ok)") }
        #expect(!matches(g, "nul"))
    }
}
