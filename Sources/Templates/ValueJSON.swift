import Foundation

// Value as plain JSON, for the APIs that carry arbitrary JSON (tool parameters' schemas, tool-call
// arguments): written compactly, and read and written through Codable. Codable decoders do not
// keep an object's key order (JSONDecoder hands keys over in hash order), so a decoded object's
// keys are sorted; where order matters, parse the text with `Value(json:)`, which keeps it.

extension Value {
    /// Compact JSON (`{"a":1,"b":[true,null]}`), keys in their order; throws for values that are not JSON.
    public func jsonText(sortKeys: Bool = false) throws -> String {
        try JSONDumper(itemSeparator: ",", keySeparator: ":", sortKeys: sortKeys).dump(self)
    }

    /// Python's `json.dumps(value, indent=indent, ensure_ascii=False)`: one line with ", " and ": " without an
    /// indent, each member on its own line with one (what lm-evaluation-harness writes its files with).
    public func pythonJSON(indent: Int? = nil) throws -> String {
        try JSONDumper(indent: indent.map { String(repeating: " ", count: $0) }, itemSeparator: indent == nil ? ", " : ",").dump(self)
    }

    /// Python's `str(float)` / `repr(float)`.
    public static func pythonFloat(_ d: Double) -> String { formatPythonFloat(d) }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> Value? {
        if case .dict(let d) = self { return d[key] }
        return nil
    }

    /// The string, when this is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements, when this is a list.
    public var arrayValue: [Value]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Whether this is a JSON object.
    public var isObject: Bool {
        if case .dict = self { return true }
        return false
    }
}

extension Value: Codable {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            let keys = object.allKeys.sorted { $0.stringValue.unicodeScalars.lexicographicallyPrecedes($1.stringValue.unicodeScalars) }
            self = .dict(OrderedDict(try keys.map { ($0.stringValue, try object.decode(Value.self, forKey: $0)) }))
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [Value] = []
            while !list.isAtEnd { items.append(try list.decode(Value.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .none } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) { self = .double(d) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .dict(let d):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in d.pairs { try c.encode(value, forKey: AnyKey(stringValue: key)) }
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .none:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .undefined, .namespace, .callable, .loop:
            throw EncodingError.invalidValue(self, .init(codingPath: encoder.codingPath, debugDescription: "\(typeName) is not JSON"))
        }
    }
}
