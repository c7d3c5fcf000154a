import Templates

/// Why a JSON Schema cannot be turned into a grammar: a keyword the grammar cannot enforce, or a
/// schema that is not well formed. `path` is a JSON pointer into the schema.
public enum JSONSchemaError: Error, CustomStringConvertible, Equatable {
    case unsupported(String, path: String)
    case invalid(String, path: String)

    public var description: String {
        switch self {
        case .unsupported(let what, let path): "\(what) (at \(path.isEmpty ? "the schema's root" : path)) cannot be enforced by the output grammar"
        case .invalid(let what, let path): "invalid JSON Schema at \(path.isEmpty ? "the root" : path): \(what)"
        }
    }
}

/// Grammars for JSON text: any JSON value or object (`response_format` `json_object`), and the
/// values a JSON Schema allows (OpenAI's structured-output subset and a little more: objects with
/// required and optional properties in the schema's order, enum and const, anyOf, arrays with
/// minItems/maxItems, strings with minLength/maxLength, number, integer, boolean, null, type lists,
/// local `$ref` to `$defs`/`definitions`, recursion). Keywords that constrain values in ways the
/// grammar does not enforce (pattern, format, minimum, ...) are refused rather than ignored, so
/// every output validates against its schema.
///
/// The value may be followed by whitespace, as llama.cpp's JSON grammar allows: a model whose
/// tokens join the closing brace to a newline (`}` + `\n` as one token, Gemma 3's) can then end.
/// Whitespace between tokens is limited as llama.cpp limits it (one space, or a newline and up to
/// 20 spaces or tabs), and numbers to 16 integer and 16 fraction digits with a 2-digit exponent
/// (every such number is a finite double, which strict parsers such as Foundation's require):
/// the model cannot run on forever inside them.
public struct JSONGrammarBuilder {
    public var builder = GrammarBuilder()
    private var root: Value = .none
    private var refs: [String: Int] = [:]
    private var depth = 0

    public init() {}

    /// Any JSON object (OpenAI's JSON mode).
    public static func object() -> Grammar {
        var j = JSONGrammarBuilder()
        let object = j.anyObject()
        j.builder.rule("root", [[object, j.space()]])
        return try! j.builder.build(root: "root")  // fixed rules, no left recursion
    }

    /// Values valid under `schema` (a parsed JSON Schema).
    public static func schema(_ schema: Value) throws(JSONSchemaError) -> Grammar {
        var j = JSONGrammarBuilder()
        let value = try j.value(schema)
        j.builder.rule("root", [value + [j.space()]])
        do { return try j.builder.build(root: "root") } catch { throw .invalid(error.description, path: "") }
    }

    // MARK: Building blocks

    /// Optional whitespace between tokens.
    public mutating func space() -> GrammarElement {
        if let r = builder.index(of: "space") { return .rule(r) }
        let indent = builder.repeated("indent", [.bytes(ByteSet([0x20, 0x09]))], min: 0, max: 20)
        return builder.rule("space", [[], GrammarBuilder.literal(" "), GrammarBuilder.literal("\n") + indent])
    }

    /// One character inside a JSON string (raw or escaped; no surrogate escapes).
    mutating func stringCharacter() -> GrammarElement {
        if let r = builder.index(of: "char") { return .rule(r) }
        let plain = ByteSet((UInt8(0x20)...UInt8(0x7E)).filter { $0 != 0x22 && $0 != 0x5C })
        let hex = GrammarElement.bytes(ByteSet(Array("0123456789abcdefABCDEF".utf8)))
        let utf8 = builder.utf8NonASCII()
        let simpleEscape = GrammarElement.bytes(ByteSet(Array("\"\\/bfnrt".utf8)))
        let unicode: [[GrammarElement]] = [
            [.bytes(ByteSet(Array("0123456789abcABC".utf8))), hex, hex, hex],
            [.bytes(ByteSet(Array("dD".utf8))), .bytes(ByteSet(Array("01234567".utf8))), hex, hex],
            [.bytes(ByteSet(Array("efEF".utf8))), hex, hex, hex],
        ]
        let escapeU = builder.fresh("unicode-escape", unicode)
        let backslash = GrammarElement.bytes(ByteSet([0x5C]))
        return builder.rule("char", [
            [.bytes(plain)],
            [utf8],
            [backslash, simpleEscape],
            [backslash, .bytes(ByteSet([UInt8(ascii: "u")])), escapeU],
        ])
    }

    /// Any JSON string, or one of `minLength...maxLength` characters.
    public mutating func string(minLength: Int = 0, maxLength: Int? = nil) -> GrammarElement {
        let quote = GrammarElement.bytes(ByteSet([0x22]))
        let char = stringCharacter()
        if minLength == 0 && maxLength == nil {
            if let r = builder.index(of: "string") { return .rule(r) }
            return builder.rule("string", [[quote, builder.star("chars", [char]), quote]])
        }
        return builder.fresh("string-\(minLength)-\(maxLength.map(String.init) ?? "")",
                             [[quote] + builder.repeated("chars", [char], min: minLength, max: maxLength) + [quote]])
    }

    public mutating func integer() -> GrammarElement {
        if let r = builder.index(of: "integer") { return .rule(r) }
        let digit = GrammarElement.bytes(ByteSet(range: 0x30...0x39))
        let nonzero = GrammarElement.bytes(ByteSet(range: 0x31...0x39))
        let minus = builder.optional("minus", GrammarBuilder.literal("-"))
        let magnitude = builder.fresh("integer-digits", [GrammarBuilder.literal("0"), [nonzero] + builder.repeated("digits", [digit], min: 0, max: 15)])
        return builder.rule("integer", [[minus, magnitude]])
    }

    public mutating func number() -> GrammarElement {
        if let r = builder.index(of: "number") { return .rule(r) }
        let digit = GrammarElement.bytes(ByteSet(range: 0x30...0x39))
        let integer = integer()
        let fraction = builder.optional("fraction", GrammarBuilder.literal(".") + builder.repeated("fraction-digits", [digit], min: 1, max: 16))
        let sign = builder.optional("exponent-sign", [.bytes(ByteSet(Array("+-".utf8)))])
        let exponent = builder.optional("exponent", [.bytes(ByteSet(Array("eE".utf8))), sign] + builder.repeated("exponent-digits", [digit], min: 1, max: 2))
        return builder.rule("number", [[integer, fraction, exponent]])
    }

    public mutating func boolean() -> GrammarElement {
        if let r = builder.index(of: "boolean") { return .rule(r) }
        return builder.rule("boolean", [GrammarBuilder.literal("true"), GrammarBuilder.literal("false")])
    }

    public mutating func null() -> GrammarElement {
        if let r = builder.index(of: "null") { return .rule(r) }
        return builder.rule("null", [GrammarBuilder.literal("null")])
    }

    /// Any JSON value.
    public mutating func anyValue() -> GrammarElement {
        if let r = builder.index(of: "value") { return .rule(r) }
        let value = builder.declare("value")
        let object = anyObject()
        let array = anyArray()
        builder.define(value, [[object], [array], [string()], [number()], [boolean()], [null()]])
        return .rule(value)
    }

    /// Any JSON object.
    public mutating func anyObject() -> GrammarElement {
        if let r = builder.index(of: "object") { return .rule(r) }
        let object = builder.declare("object")
        let ws = space()
        let value = anyValue()
        let member = [string(), ws] + GrammarBuilder.literal(":") + [ws, value]
        let more = builder.star("members", [ws] + GrammarBuilder.literal(",") + [ws] + member)
        let members = builder.optional("object-members", member + [more])
        builder.define(object, [GrammarBuilder.literal("{") + [ws, members, ws] + GrammarBuilder.literal("}")])
        return .rule(object)
    }

    public mutating func anyArray() -> GrammarElement {
        if let r = builder.index(of: "array") { return .rule(r) }
        let array = builder.declare("array")
        let ws = space()
        let value = anyValue()
        let more = builder.star("elements", [ws] + GrammarBuilder.literal(",") + [ws, value])
        let elements = builder.optional("array-elements", [value, more])
        builder.define(array, [GrammarBuilder.literal("[") + [ws, elements, ws] + GrammarBuilder.literal("]")])
        return .rule(array)
    }

    /// The exact text of a JSON value (for enum and const): compact, keys in their order.
    static func literalText(_ v: Value, path: String) throws(JSONSchemaError) -> String {
        do { return try v.jsonText() } catch { throw .invalid("not a JSON value", path: path) }
    }

    /// `s` as a JSON string literal.
    static func quoted(_ s: String) -> String {
        try! Value.string(s).jsonText()  // a string always has a JSON text
    }

    // MARK: Schemas

    /// Keywords that restrict values in ways the grammar does not enforce.
    static let unenforced: Set<String> = [
        "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems",
        "patternProperties", "propertyNames", "not", "if", "then", "else", "oneOf", "dependentRequired", "dependentSchemas",
        "dependencies", "contains", "minContains", "maxContains", "prefixItems", "minProperties", "maxProperties",
        "unevaluatedProperties", "unevaluatedItems", "contentEncoding", "contentMediaType", "$dynamicRef", "$recursiveRef",
    ]

    /// Longest `maxLength` / `maxItems` written out as a bounded repetition.
    static let longestBound = 4096

    /// The elements matching a value valid under `schema`, the whole schema being `root` for `$ref`.
    /// Several schemas may go into one grammar (one per tool): each call resolves `$ref` in its own `root`.
    public mutating func value(_ schema: Value, root: Value? = nil) throws(JSONSchemaError) -> [GrammarElement] {
        self.root = root ?? schema
        refs = [:]
        return try value(schema, path: "")
    }

    mutating func value(_ schema: Value, path: String) throws(JSONSchemaError) -> [GrammarElement] {
        depth += 1
        defer { depth -= 1 }
        guard depth < 64 else { throw .unsupported("a schema nested more than 64 levels deep", path: path) }
        switch schema {
        case .bool(true): return [anyValue()]
        case .bool(false): throw .unsupported("the schema `false` (no value is valid)", path: path)
        case .dict(let d): return try value(d, path: path)
        default: throw .invalid("a schema must be an object or a boolean", path: path)
        }
    }

    private mutating func value(_ d: OrderedDict, path: String) throws(JSONSchemaError) -> [GrammarElement] {
        for key in d.keys where Self.unenforced.contains(key) {
            throw .unsupported("the keyword '\(key)'", path: path + "/" + key)
        }
        if let ref = d["$ref"] {
            guard case .string(let target) = ref else { throw .invalid("$ref must be a string", path: path + "/$ref") }
            return [try reference(target, path: path + "/$ref")]
        }
        if let c = d["const"] { return GrammarBuilder.literal(try Self.literalText(c, path: path + "/const")) }
        if let e = d["enum"] {
            guard case .array(let options) = e, !options.isEmpty else { throw .invalid("enum must be a non-empty array", path: path + "/enum") }
            var alternatives: [[GrammarElement]] = []
            for (i, option) in options.enumerated() {
                alternatives.append(GrammarBuilder.literal(try Self.literalText(option, path: "\(path)/enum/\(i)")))
            }
            return [builder.fresh("enum", alternatives)]
        }
        if let any = d["anyOf"] ?? d["allOf"] {
            let key = d["anyOf"] != nil ? "anyOf" : "allOf"
            guard case .array(let options) = any, !options.isEmpty else { throw .invalid("\(key) must be a non-empty array", path: path + "/" + key) }
            if key == "allOf" && options.count != 1 { throw .unsupported("allOf with more than one schema", path: path + "/allOf") }
            // Sibling keywords besides annotations would have to hold too: not enforced, so refused.
            let siblings = d.keys.filter { !["anyOf", "allOf", "description", "title", "default", "examples", "$defs", "definitions", "$schema", "$id", "$comment"].contains($0) }
            if let s = siblings.first { throw .unsupported("'\(s)' beside \(key)", path: path + "/" + s) }
            var alternatives: [[GrammarElement]] = []
            for (i, option) in options.enumerated() { alternatives.append(try value(option, path: "\(path)/\(key)/\(i)")) }
            return alternatives.count == 1 ? alternatives[0] : [builder.fresh(key, alternatives)]
        }
        var types: [String]
        switch d["type"] {
        case nil:
            if d["properties"] != nil || d["required"] != nil || d["additionalProperties"] != nil { types = ["object"] }
            else if d["items"] != nil || d["minItems"] != nil || d["maxItems"] != nil { types = ["array"] }
            else if d["minLength"] != nil || d["maxLength"] != nil { types = ["string"] }
            else { return [anyValue()] }
        case .string(let t)?: types = [t]
        case .array(let list)?:
            types = []
            for item in list {
                guard case .string(let t) = item else { throw .invalid("type must be a string or a list of strings", path: path + "/type") }
                types.append(t)
            }
            guard !types.isEmpty else { throw .invalid("type must not be an empty list", path: path + "/type") }
        default: throw .invalid("type must be a string or a list of strings", path: path + "/type")
        }
        var alternatives: [[GrammarElement]] = []
        for t in types { alternatives.append(try typed(t, d, path: path)) }
        return alternatives.count == 1 ? alternatives[0] : [builder.fresh("types", alternatives)]
    }

    private mutating func typed(_ type: String, _ d: OrderedDict, path: String) throws(JSONSchemaError) -> [GrammarElement] {
        switch type {
        case "string":
            let (lo, hi) = try bounds(d, "minLength", "maxLength", path: path)
            return [string(minLength: lo, maxLength: hi)]
        case "integer": return [integer()]
        case "number": return [number()]
        case "boolean": return [boolean()]
        case "null": return [null()]
        case "array": return [try array(d, path: path)]
        case "object": return [try object(d, path: path)]
        default: throw .invalid("unknown type '\(type)'", path: path + "/type")
        }
    }

    private func bounds(_ d: OrderedDict, _ minKey: String, _ maxKey: String, path: String) throws(JSONSchemaError) -> (Int, Int?) {
        func count(_ key: String) throws(JSONSchemaError) -> Int? {
            switch d[key] {
            case nil: return nil
            case .int(let n)? where n >= 0: return n
            case .double(let x)? where x >= 0 && x.rounded() == x && x < 1e9: return Int(x)
            default: throw .invalid("\(key) must be a non-negative integer", path: path + "/" + key)
            }
        }
        let lo = try count(minKey) ?? 0
        let hi = try count(maxKey)
        if let hi, hi < lo { throw .invalid("\(maxKey) is less than \(minKey)", path: path + "/" + maxKey) }
        if lo > Self.longestBound { throw .unsupported("\(minKey) above \(Self.longestBound)", path: path) }
        if (hi ?? 0) > Self.longestBound { throw .unsupported("\(maxKey) above \(Self.longestBound)", path: path) }
        return (lo, hi)
    }

    private mutating func array(_ d: OrderedDict, path: String) throws(JSONSchemaError) -> GrammarElement {
        let item: [GrammarElement] = try d["items"].map { v throws(JSONSchemaError) in try value(v, path: path + "/items") } ?? [anyValue()]
        let (lo, hi) = try bounds(d, "minItems", "maxItems", path: path)
        let ws = space()
        let open = GrammarBuilder.literal("[") + [ws], close = [ws] + GrammarBuilder.literal("]")
        let itemRule = builder.fresh("item", [item])
        let next = [ws] + GrammarBuilder.literal(",") + [ws, itemRule]
        if hi == 0 { return builder.fresh("array", [open + close]) }
        let rest = builder.repeated("items", next, min: max(0, lo - 1), max: hi.map { $0 - 1 })
        let elements: [GrammarElement] = [itemRule] + rest
        return builder.fresh("array", lo == 0 ? [open + [builder.optional("elements", elements)] + close] : [open + elements + close])
    }

    private mutating func object(_ d: OrderedDict, path: String) throws(JSONSchemaError) -> GrammarElement {
        var properties: [(String, Value)] = []
        switch d["properties"] {
        case nil: break
        case .dict(let p)?: properties = p.pairs
        default: throw .invalid("properties must be an object", path: path + "/properties")
        }
        var required = Set<String>()
        switch d["required"] {
        case nil: break
        case .array(let names)?:
            for (i, n) in names.enumerated() {
                guard case .string(let s) = n else { throw .invalid("required must list strings", path: "\(path)/required/\(i)") }
                required.insert(s)
            }
        default: throw .invalid("required must be an array", path: path + "/required")
        }
        let declared = Set(properties.map(\.0))
        // A required property without a schema: any value, after the declared ones.
        for name in required.subtracting(declared).sorted() { properties.append((name, .bool(true))) }
        let ws = space()
        if properties.isEmpty {
            // No declared properties: any object, unless additionalProperties forbids every key.
            if case .bool(false)? = d["additionalProperties"] {
                return builder.fresh("object", [GrammarBuilder.literal("{") + [ws] + GrammarBuilder.literal("}")])
            }
            if case .dict? = d["additionalProperties"], let extra = d["additionalProperties"] {
                let v = try value(extra, path: path + "/additionalProperties")
                let member = [string(), ws] + GrammarBuilder.literal(":") + [ws] + v
                let more = builder.star("members", [ws] + GrammarBuilder.literal(",") + [ws] + member)
                let members = builder.optional("members", member + [more])
                return builder.fresh("object", [GrammarBuilder.literal("{") + [ws, members, ws] + GrammarBuilder.literal("}")])
            }
            return anyObject()
        }
        // Members in the schema's order; optional ones may be left out. first[i]: members from i when
        // none has been written yet; rest[i]: from i after at least one (each then starts with a comma).
        var members: [[GrammarElement]] = []
        for (name, schema) in properties {
            let v = try value(schema, path: "\(path)/properties/\(name)")
            members.append(GrammarBuilder.literal(Self.quoted(name)) + [ws] + GrammarBuilder.literal(":") + [ws] + v)
        }
        let n = properties.count
        var rest: [GrammarElement] = Array(repeating: .rule(0), count: n + 1)
        var first: [GrammarElement] = Array(repeating: .rule(0), count: n + 1)
        rest[n] = builder.fresh("members-end", [[]])
        first[n] = rest[n]
        for i in stride(from: n - 1, through: 0, by: -1) {
            let isRequired = required.contains(properties[i].0)
            let withComma = [ws] + GrammarBuilder.literal(",") + [ws] + members[i] + [rest[i + 1]]
            rest[i] = builder.fresh("members-after", isRequired ? [withComma] : [withComma, [rest[i + 1]]])
            let leading = members[i] + [rest[i + 1]]
            first[i] = builder.fresh("members", isRequired ? [leading] : [leading, [first[i + 1]]])
        }
        return builder.fresh("object", [GrammarBuilder.literal("{") + [ws, first[0], ws] + GrammarBuilder.literal("}")])
    }

    private mutating func reference(_ target: String, path: String) throws(JSONSchemaError) -> GrammarElement {
        if let r = refs[target] { return .rule(r) }
        var node = root
        if target != "#" {
            guard target.hasPrefix("#/") else { throw .unsupported("a $ref outside this schema ('\(target)')", path: path) }
            for raw in target.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
                let part = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                guard case .dict(let d) = node, let next = d[part] else { throw .invalid("$ref '\(target)' points at nothing", path: path) }
                node = next
            }
        }
        let r = builder.declareFresh("ref " + target)
        refs[target] = r
        builder.define(r, [try value(node, path: String(target.dropFirst()))])
        return .rule(r)
    }
}
