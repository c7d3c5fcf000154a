import Foundation

/// A dictionary that keeps insertion order, like Python's `dict` (tojson and `items()` output depend on it).
public struct OrderedDict: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: Value] = [:]

    public init() {}

    public init(_ pairs: [(String, Value)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
    public var values: [Value] { keys.map { storage[$0]! } }
    public var pairs: [(String, Value)] { keys.map { ($0, storage[$0]!) } }

    public subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Python dict equality ignores order.
    public static func == (lhs: OrderedDict, rhs: OrderedDict) -> Bool {
        lhs.storage == rhs.storage
    }
}

/// A function value: a macro of the running template, or a builtin bound to its receiver.
public enum Callable: Sendable, Equatable {
    case macro(Int)
    case global(String)
    case method(receiver: Value, name: String)
}

/// The `loop` variable inside a for loop.
public struct LoopState: Sendable, Equatable {
    public let index0: Int
    public let length: Int
    public let previous: Value?
    public let next: Value?
}

/// A template value, modelled on the Python objects jinja2 sees when transformers renders a chat template.
public indirect enum Value: Sendable, Equatable {
    /// jinja2's default `Undefined`; the payload says why, for error messages.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case dict(OrderedDict)
    /// A `namespace()` object; the number indexes the render's namespace table (namespaces are mutable and shared).
    case namespace(Int)
    case callable(Callable)
    case loop(LoopState)

    public static func == (lhs: Value, rhs: Value) -> Bool { lhs.pythonEquals(rhs) }

    public init(_ string: String) { self = .string(string) }

    /// Builds a value from JSON text, keeping the key order of objects.
    public init(json: String) throws {
        var parser = JSONParser(scalars: Array(json.unicodeScalars))
        self = try parser.parseDocument()
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .callable, .loop: return true
        }
    }

    /// The Python type name, as it appears in Python's error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        case .loop: return "LoopContext"
        }
    }

    func pythonEquals(_ other: Value) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.pythonEquals($1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && a.keys.allSatisfy { key in
                guard let x = a[key], let y = b[key] else { return false }
                return x.pythonEquals(y)
            }
        case (.namespace(let a), .namespace(let b)): return a == b
        case (.callable(let a), .callable(let b)): return a == b
        case (.loop(let a), .loop(let b)): return a == b
        default:
            if let x = numeric, let y = other.numeric { return x == y }
            return false
        }
    }

    /// Numbers (and bools, which are ints in Python) as a comparable pair.
    var numeric: Double? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// How deeply lists and dicts nest (a scalar is 0); stops counting past `limit`. `visited` counts the values looked at.
    func nestingDepth(limit: Int, visited: inout Int) -> Int {
        visited += 1
        guard limit >= 0 else { return 1 }
        var deepest = 0
        switch self {
        case .array(let items):
            for item in items { deepest = max(deepest, item.nestingDepth(limit: limit - 1, visited: &visited)) }
        case .dict(let dict):
            for value in dict.values { deepest = max(deepest, value.nestingDepth(limit: limit - 1, visited: &visited)) }
        default: return 0
        }
        return 1 + deepest
    }

    var integer: Int? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return i
        default: return nil
        }
    }
}

// MARK: - Python str() and repr()

extension Value {
    /// Python `str(value)`; undefined prints as empty, like jinja2's default `Undefined`.
    public var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python `repr(value)`, which `str()` uses for the elements of lists and dicts.
    var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return formatPythonFloat(d)
        case .string(let s): return pythonStringRepr(s)
        case .array(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .dict(let d):
            return "{" + d.pairs.map { pythonStringRepr($0.0) + ": " + $0.1.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        case .callable: return "<function>"
        case .loop(let state): return "<LoopContext \(state.index0 + 1)/\(state.length)>"
        }
    }
}

/// Python's float repr: shortest round-trip digits, positional for exponents -4 ..< 16, else scientific.
func formatPythonFloat(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description is also shortest round-trip; take its digits and exponent and re-layout.
    var text = "\(value.magnitude)"
    var exponentShift = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponentShift = Int(text[text.index(after: e)...])!
        text = String(text[..<e])
    }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    let intPart = String(parts[0])
    let fracPart = parts.count > 1 ? String(parts[1]) : ""
    var digits = intPart + fracPart
    var pointPosition = intPart.count + exponentShift  // digits before the decimal point
    let leadingZeros = digits.prefix { $0 == "0" }.count
    digits.removeFirst(leadingZeros)
    pointPosition -= leadingZeros
    while digits.hasSuffix("0") { digits.removeLast() }
    if digits.isEmpty { digits = "0" }
    let exponent = pointPosition - 1
    let sign = value < 0 ? "-" : ""
    if exponent >= -4 && exponent < 16 {
        if pointPosition <= 0 {
            return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
        }
        if pointPosition >= digits.count {
            return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        }
        let index = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<index] + "." + digits[index...]
    }
    var mantissa = String(digits.first!)
    if digits.count > 1 { mantissa += "." + digits.dropFirst() }
    let expText = String(abs(exponent))
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (expText.count < 2 ? "0" + expText : expText)
}

/// Python's repr of a str: single quotes unless the text has a ' and no ", escapes for the unprintable.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote {
                out += "\\" + String(quote)
            } else if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(format: "\\x%02x", scalar.value)
            } else if scalar.value >= 0x80 && !isPythonPrintable(scalar) {
                if scalar.value <= 0xFF {
                    out += String(format: "\\x%02x", scalar.value)
                } else if scalar.value <= 0xFFFF {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out += String(format: "\\U%08x", scalar.value)
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out.append(quote)
    return out
}

/// Approximates Python's str.isprintable for non-ASCII: not a control, format, separator (other than space) or unassigned.
private func isPythonPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

/// Python's str.isspace.
func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
}

// MARK: - JSON

/// A small JSON parser that keeps object key order (Foundation's JSONSerialization does not).
struct JSONParser {
    let scalars: [Unicode.Scalar]
    var position = 0
    var depth = 0

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func parseDocument() throws -> Value {
        let value = try parseValue()
        skipSpace()
        guard position == scalars.count else { throw fail("trailing characters") }
        return value
    }

    private func fail(_ message: String) -> TemplateError {
        TemplateError(.json, "invalid JSON at offset \(position): \(message)")
    }

    private mutating func skipSpace() {
        while position < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[position]) { position += 1 }
    }

    private mutating func parseValue() throws -> Value {
        skipSpace()
        guard position < scalars.count else { throw fail("unexpected end") }
        switch scalars[position] {
        case "{":
            depth += 1
            defer { depth -= 1 }
            guard depth < 512 else { throw fail("nested too deeply") }
            position += 1
            var dict = OrderedDict()
            skipSpace()
            if position < scalars.count, scalars[position] == "}" { position += 1; return .dict(dict) }
            while true {
                skipSpace()
                guard position < scalars.count, scalars[position] == "\"" else { throw fail("expected a key") }
                let key = try parseString()
                skipSpace()
                guard position < scalars.count, scalars[position] == ":" else { throw fail("expected ':'") }
                position += 1
                dict[key] = try parseValue()
                skipSpace()
                guard position < scalars.count else { throw fail("unexpected end") }
                if scalars[position] == "," { position += 1; continue }
                if scalars[position] == "}" { position += 1; return .dict(dict) }
                throw fail("expected ',' or '}'")
            }
        case "[":
            depth += 1
            defer { depth -= 1 }
            guard depth < 512 else { throw fail("nested too deeply") }
            position += 1
            var array: [Value] = []
            skipSpace()
            if position < scalars.count, scalars[position] == "]" { position += 1; return .array(array) }
            while true {
                array.append(try parseValue())
                skipSpace()
                guard position < scalars.count else { throw fail("unexpected end") }
                if scalars[position] == "," { position += 1; continue }
                if scalars[position] == "]" { position += 1; return .array(array) }
                throw fail("expected ',' or ']'")
            }
        case "\"":
            return .string(try parseString())
        case "t": return try literal("true", .bool(true))
        case "f": return try literal("false", .bool(false))
        case "n": return try literal("null", .none)
        default:
            return try parseNumber()
        }
    }

    private mutating func literal(_ word: String, _ value: Value) throws -> Value {
        let wordScalars = Array(word.unicodeScalars)
        guard position + wordScalars.count <= scalars.count,
              Array(scalars[position..<position + wordScalars.count]) == wordScalars else { throw fail("bad literal") }
        position += wordScalars.count
        return value
    }

    private mutating func parseNumber() throws -> Value {
        let start = position
        var isFloat = false
        while position < scalars.count {
            let c = scalars[position]
            if ("0"..."9").contains(c) || c == "-" || c == "+" {
                position += 1
            } else if c == "." || c == "e" || c == "E" {
                isFloat = true
                position += 1
            } else {
                break
            }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<position]))
        if !isFloat, let i = Int(text) { return .int(i) }
        guard !text.isEmpty, let d = Double(text) else { throw fail("bad number '\(text)'") }
        return .double(d)
    }

    private mutating func parseString() throws -> String {
        position += 1
        var out = String.UnicodeScalarView()
        while position < scalars.count {
            let c = scalars[position]
            position += 1
            if c == "\"" { return String(out) }
            guard c == "\\" else { out.append(c); continue }
            guard position < scalars.count else { break }
            let e = scalars[position]
            position += 1
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "u":
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), position + 1 < scalars.count,
                   scalars[position] == "\\", scalars[position + 1] == "u" {
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                out.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: out.append(e)
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= scalars.count,
              let code = UInt32(String(String.UnicodeScalarView(scalars[position..<position + 4])), radix: 16)
        else { throw fail("bad \\u escape") }
        position += 4
        return code
    }
}

/// Python `json.dumps(value, ensure_ascii=..., indent=..., separators=..., sort_keys=...)`.
struct JSONDumper {
    var ensureASCII = false
    var indent: String? = nil
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
    var maxBytes = Int.max

    func dump(_ value: Value) throws -> String {
        var out = ""
        try write(value, into: &out, level: 0)
        return out
    }

    private func write(_ value: Value, into out: inout String, level: Int) throws {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += formatPythonFloat(d) }
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += itemSeparator }
                try newline(into: &out, level: level + 1)
                try write(item, into: &out, level: level + 1)
            }
            try newline(into: &out, level: level)
            out += "]"
        case .dict(let dict):
            if dict.isEmpty { out += "{}"; return }
            out += "{"
            var keys = dict.keys
            if sortKeys { keys.sort { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } }
            for (i, key) in keys.enumerated() {
                if i > 0 { out += itemSeparator }
                try newline(into: &out, level: level + 1)
                writeString(key, into: &out)
                out += keySeparator
                try write(dict[key]!, into: &out, level: level + 1)
            }
            try newline(into: &out, level: level)
            out += "}"
        case .undefined, .namespace, .callable, .loop:
            let name = value.isUndefined ? "Undefined" : value.typeName
            throw TemplateError(.type, "Object of type \(name) is not JSON serializable")
        }
    }

    private func newline(into out: inout String, level: Int) throws {
        guard let indent else { return }
        if out.utf8.count + indent.utf8.count * level > maxBytes {
            throw TemplateError(.limit, "tojson output exceeds the limit of \(maxBytes) bytes")
        }
        out += "\n" + String(repeating: indent, count: level)
    }

    private func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
