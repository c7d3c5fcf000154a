import Foundation

/// jinja2's builtin filters and tests (jinja2/filters.py, jinja2/tests.py), with transformers' `tojson`.
struct Filters {
    let interpreter: Interpreter

    /// Binds positional and keyword arguments to the parameter names of a Python signature.
    private func bind(_ filter: String, _ names: [String], _ positional: [Value], _ keywords: [(String, Value)]) throws -> [String: Value] {
        guard positional.count <= names.count else {
            throw TemplateError(.type, "\(filter)() takes at most \(names.count) argument(s) (\(positional.count) given)")
        }
        var bound: [String: Value] = [:]
        for (name, value) in zip(names, positional) { bound[name] = value }
        for (name, value) in keywords {
            guard names.contains(name) else { throw TemplateError(.type, "\(filter)() got an unexpected keyword argument '\(name)'") }
            bound[name] = value
        }
        return bound
    }

    private func string(_ value: Value) -> String { value.pythonString }

    func apply(_ name: String, _ value: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch name {
        case "tojson":
            let a = try bind(name, ["ensure_ascii", "indent", "separators", "sort_keys"], positional, keywords)
            var dumper = JSONDumper()
            dumper.maxBytes = interpreter.maxBytes
            dumper.ensureASCII = a["ensure_ascii"]?.truthy ?? false
            switch a["indent"] ?? .none {
            case .none: break
            case .int(let n):
                guard n <= interpreter.maxBytes else { throw TemplateError(.limit, "tojson indent \(n) exceeds the output limit") }
                dumper.indent = String(repeating: " ", count: max(0, n))
            case .string(let s): dumper.indent = s
            case let other: throw TemplateError(.type, "indent must be an int or str, not \(other.typeName)")
            }
            if dumper.indent != nil { dumper.itemSeparator = "," }
            if let separators = a["separators"], case .array(let pair) = separators, pair.count == 2,
               case .string(let item) = pair[0], case .string(let key) = pair[1] {
                dumper.itemSeparator = item
                dumper.keySeparator = key
            }
            dumper.sortKeys = a["sort_keys"]?.truthy ?? false
            return try interpreter.checkedString(try dumper.dump(value))
        case "safe", "e", "escape", "forceescape":
            if name == "safe" { return value }
            var out = ""
            for ch in string(value) {
                switch ch {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.append(ch)
                }
            }
            return .string(out)
        case "length", "count":
            switch value {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .dict(let d): return .int(d.count)
            default: throw TemplateError(.type, "object of type '\(value.typeName)' has no len()")
            }
        case "string":
            return .string(string(value))
        case "trim":
            let a = try bind(name, ["chars"], positional, keywords)
            let chars: Set<Unicode.Scalar>? = { if case .string(let c) = a["chars"] ?? .none { return Set(c.unicodeScalars) } else { return nil } }()
            return .string(pythonStrip(string(value), chars))
        case "upper": return .string(string(value).uppercased())
        case "lower": return .string(string(value).lowercased())
        case "capitalize": return .string(capitalize(string(value)))
        case "title":
            // jinja2's own title: each word after -, whitespace or an opening bracket starts upper-case.
            var out = ""
            var atWordStart = true
            for scalar in string(value).unicodeScalars {
                let isSeparator = scalar == "-" || isPythonSpace(scalar) || "({[<".unicodeScalars.contains(scalar)
                if isSeparator {
                    out.unicodeScalars.append(scalar)
                    atWordStart = true
                } else {
                    out += atWordStart ? String(scalar).uppercased() : String(scalar).lowercased()
                    atWordStart = false
                }
            }
            return .string(out)
        case "replace":
            let a = try bind(name, ["old", "new", "count"], positional, keywords)
            let count = a["count"].flatMap { $0 == .none ? nil : $0.integer } ?? -1
            return try interpreter.checkedString(try pythonReplace(string(value), string(a["old"] ?? .string("")),
                                                                  string(a["new"] ?? .string("")), count, maxBytes: interpreter.maxBytes))
        case "join":
            let a = try bind(name, ["d", "attribute"], positional, keywords)
            var items = try interpreter.iterate(value)
            if let attribute = a["attribute"], attribute != .none { items = try items.map { try lookupPath($0, attribute) } }
            return try interpreter.checkedString(items.map(string).joined(separator: string(a["d"] ?? .string(""))))
        case "first":
            if case .undefined(let why) = value { throw TemplateError(.undefined, why) }
            return try interpreter.iterate(value).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            if case .undefined(let why) = value { throw TemplateError(.undefined, why) }
            return try interpreter.iterate(value).last ?? .undefined("No last item, sequence was empty.")
        case "default", "d":
            let a = try bind(name, ["default_value", "boolean"], positional, keywords)
            let useDefault = value.isUndefined || ((a["boolean"]?.truthy ?? false) && !value.truthy)
            return useDefault ? (a["default_value"] ?? .string("")) : value
        case "items":
            switch value {
            case .undefined: return .array([])
            case .dict(let d): return try interpreter.checkedContainer(.array(d.pairs.map { .array([.string($0.0), $0.1]) }))
            default: throw TemplateError(.type, "items filter expects a mapping, got \(value.typeName)")
            }
        case "list":
            return .array(try interpreter.iterate(value))
        case "reverse":
            if case .string(let s) = value { return .string(String(scalars: s.unicodeScalars.reversed())) }
            return .array(try interpreter.iterate(value).reversed())
        case "int":
            let a = try bind(name, ["default", "base"], positional, keywords)
            let fallback = a["default"] ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .double(let d): return Int(exactly: d.rounded(.towardZero)).map(Value.int) ?? fallback
            case .string(let s):
                let text = pythonStrip(s, nil).replacingOccurrences(of: "_", with: "")
                let base = a["base"]?.integer ?? 10
                guard (2...36).contains(base) else { throw TemplateError(.type, "int() base must be >= 2 and <= 36") }
                if let i = Int(text, radix: base) { return .int(i) }
                if let d = Double(text), let i = Int(exactly: d.rounded(.towardZero)) { return .int(i) }
                return fallback
            default: return fallback
            }
        case "float":
            let a = try bind(name, ["default"], positional, keywords)
            if let n = value.numeric { return .double(n) }
            if case .string(let s) = value, let d = Double(pythonStrip(s, nil)) { return .double(d) }
            return a["default"] ?? .double(0)
        case "abs":
            switch value {
            case .int(let i):
                guard i != Int.min else { throw TemplateError(.limit, "integer overflow in abs") }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw TemplateError(.type, "bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            let a = try bind(name, ["precision", "method"], positional, keywords)
            let precision = a["precision"]?.integer ?? 0
            let method = string(a["method"] ?? .string("common"))
            guard let x = value.numeric else { throw TemplateError(.type, "round() needs a number, got \(value.typeName)") }
            let scale = pow(10.0, Double(precision))
            switch method {
            case "common":
                // Python's round(): half to even.
                if let i = value.integer, precision >= 0 { return .int(i) }
                // printf rounds the exact binary value half-to-even, as CPython's round() does.
                if precision >= 0, precision < 30, x.isFinite { return .double(Double(String(format: "%.*f", precision, x))!) }
                return .double((x * scale).rounded(.toNearestOrEven) / scale)
            case "ceil": return .double((x * scale).rounded(.up) / scale)
            case "floor": return .double((x * scale).rounded(.down) / scale)
            default: throw TemplateError(.type, "method must be common, ceil or floor")
            }
        case "indent":
            let a = try bind(name, ["width", "first", "blank"], positional, keywords)
            let indentation: String
            if case .string(let s) = a["width"] ?? .none {
                indentation = s
            } else {
                let width = a["width"]?.integer ?? 4
                guard width <= interpreter.maxBytes else { throw TemplateError(.limit, "indent width \(width) exceeds the output limit") }
                indentation = String(repeating: " ", count: max(0, width))
            }
            let lines = pythonSplitLines(string(value) + "\n")
            var result: String
            if a["blank"]?.truthy ?? false {
                result = lines.joined(separator: "\n" + indentation)
            } else {
                result = lines.first ?? ""
                if lines.count > 1 {
                    result += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            if a["first"]?.truthy ?? false { result = indentation + result }
            return try interpreter.checkedString(result)
        case "wordcount":
            var words = 0
            var inWord = false
            for scalar in string(value).unicodeScalars {
                let isWord = scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                if isWord && !inWord { words += 1 }
                inWord = isWord
            }
            return .int(words)
        case "unique":
            let a = try bind(name, ["case_sensitive", "attribute"], positional, keywords)
            let caseSensitive = a["case_sensitive"]?.truthy ?? false
            var seen: Set<String> = []
            var result: [Value] = []
            for item in try interpreter.iterate(value) {
                let key = try sortKey(try project(item, a["attribute"]), caseSensitive)
                if seen.insert(equalityKey(key)).inserted { result.append(item) }
            }
            return .array(result)
        case "sort":
            let a = try bind(name, ["reverse", "case_sensitive", "attribute"], positional, keywords)
            let caseSensitive = a["case_sensitive"]?.truthy ?? false
            let items = try interpreter.iterate(value)
            let keys = try items.map { try sortKey(try project($0, a["attribute"]), caseSensitive) }
            let order = try stableSort(Array(items.indices), reverse: a["reverse"]?.truthy ?? false) { try less(keys[$0], keys[$1]) }
            return .array(order.map { items[$0] })
        case "dictsort":
            let a = try bind(name, ["case_sensitive", "by", "reverse"], positional, keywords)
            guard case .dict(let d) = value else { throw TemplateError(.type, "dictsort expects a mapping") }
            let byValue = string(a["by"] ?? .string("key")) == "value"
            let caseSensitive = a["case_sensitive"]?.truthy ?? false
            let pairs = d.pairs
            let keys = try pairs.map { try sortKey(byValue ? $0.1 : .string($0.0), caseSensitive) }
            let order = try stableSort(Array(pairs.indices), reverse: a["reverse"]?.truthy ?? false) { try less(keys[$0], keys[$1]) }
            return .array(order.map { .array([.string(pairs[$0].0), pairs[$0].1]) })
        case "min", "max":
            let a = try bind(name, ["case_sensitive", "attribute"], positional, keywords)
            let items = try interpreter.iterate(value)
            guard !items.isEmpty else { return .undefined("No aggregated item, sequence was empty.") }
            let caseSensitive = a["case_sensitive"]?.truthy ?? false
            var best = items[0]
            for item in items.dropFirst() {
                let x = try sortKey(try project(item, a["attribute"]), caseSensitive)
                let y = try sortKey(try project(best, a["attribute"]), caseSensitive)
                if name == "min" ? try less(x, y) : try less(y, x) { best = item }
            }
            return best
        case "sum":
            let a = try bind(name, ["attribute", "start"], positional, keywords)
            var total = a["start"] ?? .int(0)
            for item in try interpreter.iterate(value) {
                total = try interpreter.evaluate(.binary("+", .literal(total), .literal(try project(item, a["attribute"]))))
            }
            return total
        case "map":
            let items = try interpreter.iterate(value)
            if positional.isEmpty, let attribute = keywords.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = keywords.first(where: { $0.0 == "default" })?.1
                return .array(try items.map { item in
                    let found = try lookupPath(item, attribute)
                    if found.isUndefined, let fallback { return fallback }
                    return found
                })
            }
            guard case .string(let filterName) = positional.first ?? .none else {
                throw TemplateError(.type, "map requires a filter name or attribute=")
            }
            return .array(try items.map { try apply(filterName, $0, Array(positional.dropFirst()), keywords) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            var arguments = positional
            var attribute: Value? = nil
            if byAttribute {
                guard !arguments.isEmpty else { throw TemplateError(.type, "\(name) requires an attribute name") }
                attribute = arguments.removeFirst()
            }
            let keep = name.hasPrefix("select")
            var result: [Value] = []
            for item in try interpreter.iterate(value) {
                let subject = try attribute.map { try lookupPath(item, $0) } ?? item
                let passed: Bool
                if case .string(let testName) = arguments.first ?? .none {
                    passed = try test(testName, subject, Array(arguments.dropFirst()))
                } else {
                    passed = subject.truthy
                }
                if passed == keep { result.append(item) }
            }
            return .array(result)
        case "attr":
            return try interpreter.attribute(value, string(positional.first ?? .none))
        case "center":
            let width = (positional.first ?? .int(80)).integer ?? 80
            let s = string(value)
            let count = s.unicodeScalars.count
            guard width > count else { return .string(s) }
            guard width <= interpreter.maxBytes else { throw TemplateError(.limit, "center width \(width) exceeds the output limit") }
            let total = width - count
            let left = total / 2 + (total & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
        default:
            throw TemplateError(.syntax, "No filter named '\(name)'.")
        }
    }

    /// jinja2's attribute getter for `map(attribute=)`, `selectattr` and friends: dotted paths, digits index.
    private func lookupPath(_ item: Value, _ path: Value) throws -> Value {
        if let i = path.integer { return try interpreter.item(item, .int(i)) }
        var current = item
        for part in string(path).split(separator: ".", omittingEmptySubsequences: false) {
            let key: Value = Int(part).map(Value.int) ?? .string(String(part))
            current = try interpreter.item(current, key)
        }
        return current
    }

    private func project(_ item: Value, _ attribute: Value?) throws -> Value {
        guard let attribute, attribute != .none else { return item }
        return try lookupPath(item, attribute)
    }

    private func sortKey(_ value: Value, _ caseSensitive: Bool) throws -> Value {
        if !caseSensitive, case .string(let s) = value { return .string(s.lowercased()) }
        return value
    }

    private func less(_ a: Value, _ b: Value) throws -> Bool {
        try interpreter.evaluate(.compare(.literal(a), [("<", .literal(b))])).truthy
    }

    /// Python's sorted(): stable, and reverse keeps equal elements in their original order.
    private func stableSort(_ indices: [Int], reverse: Bool, by less: (Int, Int) throws -> Bool) throws -> [Int] {
        try indices.sorted { a, b in
            if try reverse ? less(b, a) : less(a, b) { return true }
            if try reverse ? less(a, b) : less(b, a) { return false }
            return a < b
        }
    }

    /// A hashable stand-in for Python equality of the values `unique` compares (1 == 1.0 == True).
    private func equalityKey(_ value: Value) -> String {
        if let n = value.numeric { return "n\(n)" }
        if case .string(let s) = value { return "s" + s }
        return "r" + value.pythonRepr
    }

    func test(_ name: String, _ value: Value, _ arguments: [Value]) throws -> Bool {
        let argument = arguments.first ?? .none
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true }; return false
        case "string": if case .string = value { return true }; return false
        case "mapping": if case .dict = value { return true }; return false
        case "number":
            switch value { case .int, .double, .bool: return true; default: return false }
        case "integer": if case .int = value { return true }; return false
        case "float": if case .double = value { return true }; return false
        case "boolean": if case .bool = value { return true }; return false
        case "true": return value == .bool(true) && { if case .bool = value { return true }; return false }()
        case "false": return value == .bool(false) && { if case .bool = value { return true }; return false }()
        case "iterable", "sequence":
            switch value { case .string, .array, .dict, .undefined: return true; default: return false }
        case "callable": if case .callable = value { return true }; return false
        case "odd", "even":
            guard let i = value.integer else { throw TemplateError(.type, "\(name) test needs an integer") }
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard let i = value.integer, let n = argument.integer, n != 0 else { throw TemplateError(.type, "divisibleby needs integers") }
            return n == -1 || i % n == 0
        case "equalto", "eq", "==", "sameas": return value.pythonEquals(argument)
        case "ne", "!=": return !value.pythonEquals(argument)
        case "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "lessthan", "greaterthan":
            let op = ["lt": "<", "lessthan": "<", "le": "<=", "gt": ">", "greaterthan": ">", "ge": ">="][name] ?? name
            return try interpreter.evaluate(.compare(.literal(value), [(op, .literal(argument))])).truthy
        case "in":
            return try interpreter.evaluate(.compare(.literal(value), [("in", .literal(argument))])).truthy
        case "lower": if case .string(let s) = value { return s == s.lowercased() }; return false
        case "upper": if case .string(let s) = value { return s == s.uppercased() }; return false
        default:
            throw TemplateError(.syntax, "No test named '\(name)'.")
        }
    }
}
