import Foundation

/// Limits that keep a hostile template from running long or growing large; each ends rendering with a
/// `.limit` error.
public struct RenderLimits: Sendable, Equatable {
    /// Loop iterations and macro calls over the whole render, all together.
    public var maxLoopIterations: Int = 1_000_000
    /// Largest `range()`; jinja2's sandbox uses the same bound (MAX_RANGE).
    public var maxRange: Int = 100_000
    /// Nested macro calls.
    public var maxCallDepth: Int = 64
    /// Bytes of text emitted (macro and `set` block bodies included), and the size of any one string value.
    public var maxOutputBytes: Int = 16 << 20
    /// Bytes of all strings built by concatenation, repetition, `join`, `replace`, `tojson`, ... together:
    /// bounds the work of loops that build large strings and throw them away.
    public var maxBuiltBytes: Int = 1 << 30
    /// Nesting of lists and dicts, in the input and in values the template builds.
    public var maxNestingDepth: Int = 256
    /// Interpreter steps over the whole render: one per statement executed, expression evaluated or loop
    /// iteration, plus one per list item and per 64 bytes of text that a builtin works through.
    public var maxSteps: Int = 20_000_000
    /// Wall-clock time of one render, in seconds.
    public var maxSeconds: Double = 2

    public init() {}
}

/// Everything outside the template and its variables that affects a render.
public struct RenderOptions: Sendable {
    public var limits = RenderLimits()
    /// The clock behind `strftime_now`; tests inject a fixed date.
    public var now: @Sendable () -> Date = { Date() }
    public var timeZone: TimeZone = .current
    /// Polled with the render budget, as `Task.isCancelled` is: when it returns true the render throws
    /// `CancellationError` (for renders on a thread of their own, outside any task).
    public var isCancelled: @Sendable () -> Bool = { false }

    public init(limits: RenderLimits = RenderLimits(), now: @escaping @Sendable () -> Date = { Date() },
                timeZone: TimeZone = .current, isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.limits = limits
        self.now = now
        self.timeZone = timeZone
        self.isCancelled = isCancelled
    }
}

private enum Flow { case normal, breakLoop, continueLoop }

/// Walks the syntax tree of one render. Lives only for that render; holds the mutable state
/// (scopes, namespaces, macros, counters) so that `Template` itself stays an immutable value.
final class Interpreter {
    private var scopes: [[String: Value]]
    private var namespaces: [OrderedDict] = []
    private var macros: [MacroDefinition] = []
    private var out = ""
    private var produced = 0
    private var built = 0
    private var iterations = 0
    private var callDepth = 0
    private var steps = 0
    private var nextBudgetCheck = 0
    private let started = ContinuousClock.now
    private let options: RenderOptions

    static let globalNames = ["range", "namespace", "dict", "raise_exception", "strftime_now"]

    init(context: [String: Value], options: RenderOptions) {
        var globals: [String: Value] = [:]
        for name in Interpreter.globalNames { globals[name] = .callable(.global(name)) }
        globals.merge(context) { _, new in new }
        scopes = [globals]
        self.options = options
    }

    func render(_ nodes: [Node]) throws -> String {
        _ = try execute(nodes)
        return out
    }

    // MARK: Statements

    private func emit(_ text: String) throws {
        try count(text.utf8.count)
        out += text
    }

    private func count(_ bytes: Int) throws {
        produced += bytes
        if produced > options.limits.maxOutputBytes {
            throw TemplateError(.limit, "output exceeds the limit of \(options.limits.maxOutputBytes) bytes")
        }
    }

    /// A string about to be created must fit the output limit too (e.g. `'x' * 10**9`).
    private func checkSize(_ bytes: Int) throws {
        if bytes > options.limits.maxOutputBytes {
            throw TemplateError(.limit, "a string of \(bytes) bytes exceeds the limit of \(options.limits.maxOutputBytes) bytes")
        }
        try charge(bytes: bytes)
        built += bytes
        if built > options.limits.maxBuiltBytes {
            throw TemplateError(.limit, "strings built by the template exceed \(options.limits.maxBuiltBytes) bytes in total")
        }
    }

    // MARK: Render budget

    /// Counts work against the render budget; every 1024 steps also checks the clock and cancellation,
    /// so a render stops within a few milliseconds of running out or being cancelled.
    func step(_ n: Int = 1) throws {
        steps += n
        if steps >= nextBudgetCheck { try checkBudget() }
    }

    func charge(bytes: Int) throws { try step(bytes >> 6) }

    private func checkBudget() throws {
        nextBudgetCheck = steps + 1024
        let limits = options.limits
        if steps > limits.maxSteps || started.duration(to: .now) > .seconds(limits.maxSeconds) {
            let seconds = limits.maxSeconds == limits.maxSeconds.rounded() ? String(Int(limits.maxSeconds)) : String(limits.maxSeconds)
            throw TemplateError(.limit, "template exceeded its render budget (\(limits.maxSteps) steps / \(seconds) s)")
        }
        if Task.isCancelled || options.isCancelled() { throw CancellationError() }
    }

    private func execute(_ nodes: [Node]) throws -> Flow {
        for node in nodes {
            let flow = try executeOne(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func located<T>(_ line: Int, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as TemplateError {
            if error.line == nil && error.kind != .raised { error.line = line }
            throw error
        }
    }

    private func executeOne(_ node: Node) throws -> Flow {
        try step()
        switch node {
        case .text(let text):
            try emit(text)
        case .output(let expr, let line):
            try located(line) { try emit(try evaluate(expr).pythonString) }
        case .conditional(let branches, let otherwise, let line):
            for (condition, body) in branches {
                if try located(line, { try evaluate(condition).truthy }) { return try execute(body) }
            }
            return try execute(otherwise)
        case .loop(let targets, let iterable, let filter, let body, let otherwise, let line):
            return try located(line) {
                try runLoop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
            }
        case .set(let target, let expr, let line):
            try located(line) { try assign(target, try evaluate(expr)) }
        case .setBlock(let target, let body, let line):
            let text = try capture { _ = try execute(body) }
            try located(line) { try assign(target, .string(text)) }
        case .macro(let definition, _):
            macros.append(definition)
            scopes[scopes.count - 1][definition.name] = .callable(.macro(macros.count - 1))
        case .filterBlock(let name, let arguments, let body, let line):
            let text = try capture { _ = try execute(body) }
            try located(line) {
                let (positional, keywords) = try evaluate(arguments)
                try emit(try applyFilter(name, .string(text), positional, keywords).pythonString)
            }
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    private func capture(_ body: () throws -> Void) throws -> String {
        let saved = out
        out = ""
        defer { out = saved }
        try body()
        return out
    }

    private func runLoop(targets: [String], iterable: Expr, filter: Expr?, body: [Node], otherwise: [Node]) throws -> Flow {
        var items = try iterate(try evaluate(iterable))
        scopes.append([:])
        let depth = scopes.count
        defer { scopes.removeSubrange((depth - 1)...) }
        if let filter {
            items = try items.filter { item in
                try tick()
                try bind(targets, item)
                return try evaluate(filter).truthy
            }
        }
        if items.isEmpty {
            scopes[depth - 1] = [:]
            return try execute(otherwise)
        }
        for (i, item) in items.enumerated() {
            try tick()
            // Each iteration has its own scope: a `set` in one iteration is gone in the next (jinja2 semantics).
            scopes[depth - 1] = [:]
            try bind(targets, item)
            scopes[scopes.count - 1]["loop"] = .loop(LoopState(
                index0: i, length: items.count, previous: i > 0 ? items[i - 1] : nil,
                next: i + 1 < items.count ? items[i + 1] : nil))
            if try execute(body) == .breakLoop { break }
        }
        return .normal
    }

    private func tick() throws {
        try step()
        iterations += 1
        if iterations > options.limits.maxLoopIterations {
            throw TemplateError(.limit, "more than \(options.limits.maxLoopIterations) loop iterations and macro calls")
        }
    }

    private func bind(_ targets: [String], _ item: Value) throws {
        if targets.count == 1 {
            scopes[scopes.count - 1][targets[0]] = item
            return
        }
        let parts = try iterate(item)
        guard parts.count == targets.count else {
            throw TemplateError(.type, parts.count > targets.count
                ? "too many values to unpack (expected \(targets.count))"
                : "not enough values to unpack (expected \(targets.count), got \(parts.count))")
        }
        for (name, part) in zip(targets, parts) { scopes[scopes.count - 1][name] = part }
    }

    private func assign(_ target: SetTarget, _ value: Value) throws {
        switch target {
        case .names(let names):
            try bind(names, value)
        case .attribute(let namespace, let name):
            guard case .namespace(let id) = lookup(namespace) else {
                throw TemplateError(.type, "cannot assign attribute on non-namespace object")
            }
            namespaces[id][name] = value
        }
    }

    private func lookup(_ name: String) -> Value {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        return .undefined("'\(name)' is undefined")
    }

    // MARK: Expressions

    private func evaluate(_ arguments: Arguments) throws -> ([Value], [(String, Value)]) {
        (try arguments.positional.map(evaluate), try arguments.keywords.map { ($0.0, try evaluate($0.1)) })
    }

    func evaluate(_ expr: Expr) throws -> Value {
        try step()
        switch expr {
        case .literal(let value):
            return value
        case .name(let name):
            return lookup(name)
        case .list(let items), .tuple(let items):
            return try checkedContainer(.array(try items.map(evaluate)))
        case .dict(let pairs):
            var dict = OrderedDict()
            for (keyExpr, valueExpr) in pairs {
                let key = try evaluate(keyExpr)
                guard case .string(let k) = key else {
                    throw TemplateError(.unsupported, "only string keys are supported in dict literals")
                }
                dict[k] = try evaluate(valueExpr)
            }
            return try checkedContainer(.dict(dict))
        case .attribute(let target, let name):
            return try attribute(try evaluate(target), name)
        case .item(let target, let key):
            return try item(try evaluate(target), try evaluate(key))
        case .slice(let target, let start, let stop, let step):
            return try slice(try evaluate(target), try start.map(evaluate), try stop.map(evaluate), try step.map(evaluate))
        case .call(let callee, let arguments):
            let function = try evaluate(callee)
            let (positional, keywords) = try evaluate(arguments)
            return try call(function, positional, keywords)
        case .filter(let target, let name, let arguments):
            let value = try evaluate(target)
            let (positional, keywords) = try evaluate(arguments)
            return try applyFilter(name, value, positional, keywords)
        case .test(let target, let name, let arguments, let negated):
            let value = try evaluate(target)
            let (positional, _) = try evaluate(arguments)
            return .bool(try applyTest(name, value, positional) != negated)
        case .negate(let operand):
            switch try evaluate(operand) {
            case .int(let i):
                let (r, overflow) = 0.subtractingReportingOverflow(i)
                if overflow { throw TemplateError(.limit, "integer overflow") }
                return .int(r)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case .undefined(let why): throw undefinedError(why)
            case let other: throw TemplateError(.type, "bad operand type for unary -: '\(other.typeName)'")
            }
        case .plus(let operand):
            let value = try evaluate(operand)
            if case .undefined(let why) = value { throw undefinedError(why) }
            guard value.numeric != nil else { throw TemplateError(.type, "bad operand type for unary +: '\(value.typeName)'") }
            if case .bool(let b) = value { return .int(b ? 1 : 0) }
            return value
        case .not(let operand):
            return .bool(!(try evaluate(operand).truthy))
        case .and(let left, let right):
            let l = try evaluate(left)
            return l.truthy ? try evaluate(right) : l
        case .or(let left, let right):
            let l = try evaluate(left)
            return l.truthy ? l : try evaluate(right)
        case .binary(let op, let left, let right):
            return try binary(op, try evaluate(left), try evaluate(right))
        case .compare(let first, let operations):
            var left = try evaluate(first)
            for (op, rightExpr) in operations {
                let right = try evaluate(rightExpr)
                if !(try compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try evaluate(test).truthy { return try evaluate(then) }
            guard let otherwise else { return .undefined("the inline if-expression on line evaluated to false and no else section was defined.") }
            return try evaluate(otherwise)
        }
    }

    private func undefinedError(_ why: String) -> TemplateError {
        TemplateError(why.hasPrefix("access to attribute") ? .security : .undefined, why)
    }

    // MARK: Attribute and item access

    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "replace", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum",
        "isspace", "isupper", "islower", "removeprefix", "removesuffix",
    ]
    static let dictMethods: Set<String> = ["get", "items", "keys", "values", "copy"]
    static let listMethods: Set<String> = ["index", "count", "copy"]
    /// Mutating methods that jinja2's ImmutableSandboxedEnvironment refuses.
    static let unsafeMethods: [String: Set<String>] = [
        "list": ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"],
        "dict": ["pop", "popitem", "setdefault", "update", "clear"],
    ]

    func attribute(_ value: Value, _ name: String) throws -> Value {
        // Python's private and dunder attributes are never reachable; dict keys with one leading underscore are data.
        if name.hasPrefix("__") || (name.hasPrefix("_") && !{ if case .dict = value { return true } else { return false } }()) {
            throw TemplateError(.security, "access to attribute '\(name)' of '\(value.typeName)' object is unsafe.")
        }
        if Interpreter.unsafeMethods[value.typeName]?.contains(name) == true {
            return .undefined("access to attribute '\(name)' of '\(value.typeName)' object is unsafe.")
        }
        switch value {
        case .undefined(let why):
            throw undefinedError(why)
        case .dict(let dict):
            if Interpreter.dictMethods.contains(name) { return .callable(.method(receiver: value, name: name)) }
            return dict[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .namespace(let id):
            return namespaces[id][name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
        case .string:
            if Interpreter.stringMethods.contains(name) { return .callable(.method(receiver: value, name: name)) }
        case .array:
            if Interpreter.listMethods.contains(name) { return .callable(.method(receiver: value, name: name)) }
        case .none:
            return .undefined("'None' has no attribute '\(name)'")
        case .loop(let state):
            switch name {
            case "index": return .int(state.index0 + 1)
            case "index0": return .int(state.index0)
            case "revindex": return .int(state.length - state.index0)
            case "revindex0": return .int(state.length - state.index0 - 1)
            case "first": return .bool(state.index0 == 0)
            case "last": return .bool(state.index0 == state.length - 1)
            case "length": return .int(state.length)
            case "depth": return .int(1)
            case "depth0": return .int(0)
            case "previtem": return state.previous ?? .undefined("there is no previous item")
            case "nextitem": return state.next ?? .undefined("there is no next item")
            case "cycle": return .callable(.method(receiver: value, name: name))
            default: break
            }
        default:
            break
        }
        return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
    }

    func item(_ value: Value, _ key: Value) throws -> Value {
        switch value {
        case .undefined(let why):
            throw undefinedError(why)
        case .dict(let dict):
            if case .string(let k) = key {
                if let found = dict[k] { return found }
                if !k.hasPrefix("_"), Interpreter.dictMethods.contains(k) { return .callable(.method(receiver: value, name: k)) }
                return .undefined("'dict object' has no attribute '\(k)'")
            }
            return .undefined("'dict object' has no attribute \(key.pythonRepr)")
        case .array(let array):
            if let i = key.integer {
                let index = i < 0 ? array.count + i : i
                return array.indices.contains(index) ? array[index] : .undefined("list object has no element \(i)")
            }
            if case .string(let k) = key { return try attribute(value, k) }
            throw TemplateError(.type, "list indices must be integers or slices, not \(key.typeName)")
        case .string(let s):
            if let i = key.integer {
                // Walks from the nearer end only: `s[0]` and `s[-1]` stay cheap on long strings.
                let view = s.unicodeScalars
                let found = i < 0 ? view.index(view.endIndex, offsetBy: i, limitedBy: view.startIndex)
                                  : view.index(view.startIndex, offsetBy: i, limitedBy: view.endIndex)
                try charge(bytes: 4 * Int(min(i.magnitude, UInt(s.utf8.count))))
                guard let found, found != view.endIndex else { return .undefined("str object has no element \(i)") }
                return .string(String(view[found]))
            }
            if case .string(let k) = key { return try attribute(value, k) }
            throw TemplateError(.type, "string indices must be integers, not '\(key.typeName)'")
        case .namespace:
            if case .string(let k) = key { return try attribute(value, k) }
            return .undefined("'Namespace' object has no attribute \(key.pythonRepr)")
        default:
            if case .string(let k) = key { return try attribute(value, k) }
            return .undefined("'\(value.typeName) object' has no attribute \(key.pythonRepr)")
        }
    }

    private func slice(_ value: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        func bound(_ v: Value?) throws -> Int? {
            guard let v, v != .none else { return nil }
            guard let i = v.integer else { throw TemplateError(.type, "slice indices must be integers or None") }
            return i
        }
        let (a, b, c) = (try bound(start), try bound(stop), try bound(step))
        switch value {
        case .undefined(let why):
            throw undefinedError(why)
        case .array(let array):
            return .array(try pythonSlice(array.count, a, b, c).map { array[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            try charge(bytes: s.utf8.count)
            return .string(String(scalars: try pythonSlice(scalars.count, a, b, c).lazy.map { scalars[$0] }))
        default:
            throw TemplateError(.type, "'\(value.typeName)' object is not subscriptable")
        }
    }

    /// Indices selected by a Python slice `[start:stop:step]` of a sequence of `count` elements.
    private func pythonSlice(_ count: Int, _ start: Int?, _ stop: Int?, _ step: Int?) throws -> [Int] {
        let step = step ?? 1
        guard step != 0 else { throw TemplateError(.type, "slice step cannot be zero") }
        func adjust(_ i: Int?, _ defaultValue: Int, low: Int, high: Int) -> Int {
            guard var i else { return defaultValue }
            if i < 0 { i += count }
            return min(max(i, low), high)
        }
        var result: [Int] = []
        if step > 0 {
            var i = adjust(start, 0, low: 0, high: count)
            let end = adjust(stop, count, low: 0, high: count)
            while i < end {
                result.append(i)
                let (next, overflow) = i.addingReportingOverflow(step)
                if overflow { break }
                i = next
            }
        } else {
            var i = adjust(start, count - 1, low: -1, high: count - 1)
            let end = adjust(stop, -1, low: -1, high: count - 1)
            while i > end {
                result.append(i)
                let (next, overflow) = i.addingReportingOverflow(step)
                if overflow { break }
                i = next
            }
        }
        return result
    }

    // MARK: Iteration, operators, comparison

    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .undefined: return []
        case .array(let array):
            try step(array.count)
            return array
        case .dict(let dict):
            try step(dict.count)
            return dict.keys.map(Value.string)
        case .string(let s):
            // One new string per scalar: a step each (at most one per byte).
            try step(s.utf8.count)
            return s.unicodeScalars.map { .string(String($0)) }
        default: throw TemplateError(.type, "'\(value.typeName)' object is not iterable")
        }
    }

    private func concatenationError(_ left: Value, _ right: Value) -> TemplateError {
        switch left {
        case .string: return TemplateError(.type, "can only concatenate str (not \"\(right.typeName)\") to str")
        case .array: return TemplateError(.type, "can only concatenate list (not \"\(right.typeName)\") to list")
        default: return TemplateError(.type, "unsupported operand type(s) for +: '\(left.typeName)' and '\(right.typeName)'")
        }
    }

    private func binary(_ op: String, _ left: Value, _ right: Value) throws -> Value {
        if op == "~" {
            let text = left.pythonString + right.pythonString
            try checkSize(text.utf8.count)
            return .string(text)
        }
        if case .undefined(let why) = left { throw undefinedError(why) }
        if case .undefined(let why) = right { throw undefinedError(why) }
        switch (op, left, right) {
        case ("+", .string(let a), .string(let b)):
            try checkSize(a.utf8.count + b.utf8.count)
            return .string(a + b)
        case ("+", .array(let a), .array(let b)):
            guard a.count + b.count <= options.limits.maxLoopIterations else {
                throw TemplateError(.limit, "a list of more than \(options.limits.maxLoopIterations) items")
            }
            try step(a.count + b.count)
            return .array(a + b)
        case ("*", .string(let s), _), ("*", _, .string(let s)):
            let other: Value = { if case .string = left { return right } else { return left } }()
            guard let n = other.integer else { throw TemplateError(.type, "can't multiply sequence by non-int of type '\(other.typeName)'") }
            if n <= 0 || s.isEmpty { return .string("") }
            let (total, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
            if overflow { try checkSize(Int.max) }
            try checkSize(total)
            return .string(String(repeating: s, count: n))
        case ("*", .array(let a), _), ("*", _, .array(let a)):
            let other = { if case .array = left { return right } else { return left } }()
            guard let n = other.integer else { throw TemplateError(.type, "can't multiply sequence by non-int of type '\(other.typeName)'") }
            if n <= 0 || a.isEmpty { return .array([]) }
            let (total, overflow) = a.count.multipliedReportingOverflow(by: n)
            if overflow || total > options.limits.maxLoopIterations {
                throw TemplateError(.limit, "a list of more than \(options.limits.maxLoopIterations) items")
            }
            try step(total)
            return .array(Array([[Value]](repeating: a, count: n).joined()))
        default:
            break
        }
        guard left.numeric != nil, right.numeric != nil else {
            if op == "+" { throw concatenationError(left, right) }
            if op == "%", case .string = left { throw TemplateError(.unsupported, "printf-style '%' formatting of strings is not supported") }
            throw TemplateError(.type, "unsupported operand type(s) for \(op): '\(left.typeName)' and '\(right.typeName)'")
        }
        if let a = left.integer, let b = right.integer {
            func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Value {
                if result.overflow { throw TemplateError(.limit, "integer overflow in '\(op)'") }
                return .int(result.partialValue)
            }
            switch op {
            case "+": return try checked(a.addingReportingOverflow(b))
            case "-": return try checked(a.subtractingReportingOverflow(b))
            case "*": return try checked(a.multipliedReportingOverflow(by: b))
            case "/":
                guard b != 0 else { throw TemplateError(.type, "division by zero") }
                return .double(Double(a) / Double(b))
            case "//", "%":
                guard b != 0 else { throw TemplateError(.type, op == "%" ? "integer modulo by zero" : "integer division or modulo by zero") }
                if a == Int.min && b == -1 {
                    if op == "%" { return .int(0) }
                    throw TemplateError(.limit, "integer overflow in '//'")
                }
                var q = a / b
                var r = a % b
                if r != 0 && ((r < 0) != (b < 0)) { q -= 1; r += b }
                return .int(op == "//" ? q : r)
            case "**":
                if b < 0 { return .double(pow(Double(a), Double(b))) }
                var result = 1, base = a, exponent = b
                while exponent > 0 {
                    if exponent & 1 == 1 { result = try checked(result.multipliedReportingOverflow(by: base)).integer! }
                    exponent >>= 1
                    if exponent > 0 { base = try checked(base.multipliedReportingOverflow(by: base)).integer! }
                }
                return .int(result)
            default: break
            }
        }
        let a = left.numeric!, b = right.numeric!
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw TemplateError(.type, "float division by zero") }
            return .double(a / b)
        case "//":
            guard b != 0 else { throw TemplateError(.type, "float floor division by zero") }
            return .double((a / b).rounded(.down))
        case "%":
            guard b != 0 else { throw TemplateError(.type, "float modulo") }
            var r = fmod(a, b)
            if r != 0 && ((r < 0) != (b < 0)) { r += b }
            return .double(r)
        case "**": return .double(pow(a, b))
        default: throw TemplateError(.unsupported, "operator '\(op)'")
        }
    }

    private func compare(_ op: String, _ left: Value, _ right: Value) throws -> Bool {
        switch op {
        case "==": return left.pythonEquals(right)
        case "!=": return !left.pythonEquals(right)
        case "in": return try contains(right, left)
        case "not in": return !(try contains(right, left))
        default:
            let order = try ordering(left, right, op)
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    /// -1, 0 or 1 for Python's ordering of numbers, strings (by code point) and lists.
    private func ordering(_ left: Value, _ right: Value, _ op: String) throws -> Int {
        if case .undefined(let why) = left { throw undefinedError(why) }
        if case .undefined(let why) = right { throw undefinedError(why) }
        if let a = left.numeric, let b = right.numeric {
            if let x = left.integer, let y = right.integer { return x < y ? -1 : x > y ? 1 : 0 }
            return a < b ? -1 : a > b ? 1 : 0
        }
        switch (left, right) {
        case (.string(let a), .string(let b)):
            if a.unicodeScalars.elementsEqual(b.unicodeScalars) { return 0 }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars, by: { $0.value < $1.value }) ? -1 : 1
        case (.array(let a), .array(let b)):
            for (x, y) in zip(a, b) where !x.pythonEquals(y) { return try ordering(x, y, op) }
            return a.count < b.count ? -1 : a.count > b.count ? 1 : 0
        default:
            throw TemplateError(.type, "'\(op)' not supported between instances of '\(left.typeName)' and '\(right.typeName)'")
        }
    }

    private func contains(_ container: Value, _ element: Value) throws -> Bool {
        switch container {
        case .undefined: return false
        case .string(let s):
            guard case .string(let needle) = element else {
                throw TemplateError(.type, "'in <string>' requires string as left operand, not \(element.typeName)")
            }
            guard !needle.isEmpty else { return true }
            try charge(bytes: s.utf8.count)
            return !ByteSearch(Array(needle.utf8)).matches(in: Array(s.utf8), limit: 1).isEmpty
        case .array(let a):
            try step(a.count)
            return a.contains { $0.pythonEquals(element) }
        case .dict(let d):
            if case .string(let k) = element { return d[k] != nil }
            return false
        default:
            throw TemplateError(.type, "argument of type '\(container.typeName)' is not iterable")
        }
    }

    // MARK: Calls

    func call(_ function: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        guard case .callable(let callable) = function else {
            if case .undefined(let why) = function { throw undefinedError(why) }
            throw TemplateError(.type, "'\(function.typeName)' object is not callable")
        }
        switch callable {
        case .macro(let id):
            return try callMacro(macros[id], positional, keywords)
        case .global(let name):
            return try callGlobal(name, positional, keywords)
        case .method(let receiver, let name):
            return try callMethod(receiver, name, positional, keywords)
        }
    }

    private func callMacro(_ macro: MacroDefinition, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        guard callDepth < options.limits.maxCallDepth else {
            throw TemplateError(.limit, "macro calls nested more than \(options.limits.maxCallDepth) deep")
        }
        guard positional.count <= macro.parameters.count else {
            throw TemplateError(.type, "macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)")
        }
        try tick()
        var frame: [String: Value] = [:]
        let savedScopes = scopes
        scopes = [scopes[0], frame]
        callDepth += 1
        defer {
            scopes = savedScopes
            callDepth -= 1
        }
        for (i, (name, defaultExpr)) in macro.parameters.enumerated() {
            if i < positional.count {
                frame[name] = positional[i]
            } else if let keyword = keywords.first(where: { $0.0 == name }) {
                frame[name] = keyword.1
            } else if let defaultExpr {
                scopes[1] = frame
                frame[name] = try evaluate(defaultExpr)
            } else {
                frame[name] = .undefined("parameter '\(name)' was not provided")
            }
        }
        for (name, _) in keywords where !macro.parameters.contains(where: { $0.0 == name }) {
            throw TemplateError(.type, "macro '\(macro.name)' takes no keyword argument '\(name)'")
        }
        scopes[1] = frame
        let text = try capture { _ = try execute(macro.body) }
        return .string(text)
    }

    private func callGlobal(_ name: String, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch name {
        case "raise_exception":
            throw TemplateError(.raised, (positional.first ?? keywords.first?.1 ?? .none).pythonString)
        case "range":
            let ints = try positional.map { value -> Int in
                guard let i = value.integer else { throw TemplateError(.type, "'\(value.typeName)' object cannot be interpreted as an integer") }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw TemplateError(.type, "range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw TemplateError(.type, "range() arg 3 must not be zero") }
            // Computed in Double so extreme bounds cannot overflow; exact below the MAX_RANGE check.
            let span = step > 0 ? Double(stop) - Double(start) : Double(start) - Double(stop)
            guard span / Double(step.magnitude) <= Double(options.limits.maxRange) else {
                throw TemplateError(.limit, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(options.limits.maxRange)).")
            }
            let length = step > 0 ? (stop > start ? (stop - start - 1) / step + 1 : 0)
                                  : (start > stop ? (start - stop - 1) / -step + 1 : 0)
            guard length <= options.limits.maxRange else {
                throw TemplateError(.limit, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(options.limits.maxRange)).")
            }
            return .array((0..<length).map { .int(start + $0 * step) })
        case "namespace", "dict":
            var dict = OrderedDict()
            for value in positional {
                guard case .dict(let initial) = value else { throw TemplateError(.type, "\(name)() expects a mapping") }
                for (k, v) in initial.pairs { dict[k] = v }
            }
            for (k, v) in keywords { dict[k] = v }
            if name == "dict" { return try checkedContainer(.dict(dict)) }
            namespaces.append(dict)
            return .namespace(namespaces.count - 1)
        case "strftime_now":
            guard case .string(let format) = positional.first ?? keywords.first?.1 ?? .none else {
                throw TemplateError(.type, "strftime_now() argument must be str")
            }
            return .string(strftime(format, options.now(), options.timeZone))
        default:
            throw TemplateError(.unsupported, "'\(name)' is not callable")
        }
    }

    private func callMethod(_ receiver: Value, _ name: String, _ args: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let a = args + keywords.map(\.1)
        switch receiver {
        case .string(let s):
            return try stringMethod(s, name, a)
        case .dict(let d):
            switch name {
            case "get":
                guard case .string(let key) = a.first ?? .none else { return a.count > 1 ? a[1] : .none }
                return d[key] ?? (a.count > 1 ? a[1] : .none)
            case "items": return try checkedContainer(.array(d.pairs.map { .array([.string($0.0), $0.1]) }))
            case "keys": return .array(d.keys.map(Value.string))
            case "values": return .array(d.values)
            case "copy": return receiver
            default: break
            }
        case .loop(let state) where name == "cycle":
            guard !a.isEmpty else { throw TemplateError(.type, "no items for cycling given") }
            return a[state.index0 % a.count]
        case .array(let list):
            try step(list.count)
            switch name {
            case "count": return .int(list.filter { $0.pythonEquals(a.first ?? .none) }.count)
            case "index":
                guard let i = list.firstIndex(where: { $0.pythonEquals(a.first ?? .none) }) else {
                    throw TemplateError(.type, "\((a.first ?? .none).pythonRepr) is not in list")
                }
                return .int(i)
            case "copy": return receiver
            default: break
            }
        default: break
        }
        throw TemplateError(.unsupported, "'\(receiver.typeName)' method '\(name)' is not supported")
    }

    private func stringArgument(_ value: Value?, _ method: String) throws -> String? {
        guard let value, value != .none else { return nil }
        guard case .string(let s) = value else {
            throw TemplateError(.type, "\(method) arg must be None or str")
        }
        return s
    }

    private func stringMethod(_ s: String, _ name: String, _ a: [Value]) throws -> Value {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try stringArgument(a.first, name).map { Set($0.unicodeScalars) }
            return .string(pythonStrip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            let separator = try stringArgument(a.first, name)
            let maxSplit = a.count > 1 ? (a[1].integer ?? -1) : -1
            try charge(bytes: s.utf8.count)
            let parts = try pythonSplit(s, separator, maxSplit, fromRight: name == "rsplit")
            try step(parts.count)
            return .array(parts.map(Value.string))
        case "splitlines":
            try charge(bytes: s.utf8.count)
            let lines = pythonSplitLines(s)
            try step(lines.count)
            return .array(lines.map(Value.string))
        case "startswith", "endswith":
            let candidates: [Value]
            if case .array(let list) = a.first ?? .none { candidates = list } else { candidates = [a.first ?? .none] }
            for candidate in candidates {
                guard case .string(let affix) = candidate else { throw TemplateError(.type, "\(name) first arg must be str or a tuple of str") }
                if name == "startswith" ? hasPrefix(s, affix) : hasSuffix(s, affix) { return .bool(true) }
            }
            return .bool(false)
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(pythonTitle(s))
        case "capitalize": return .string(capitalize(s))
        case "replace":
            guard a.count >= 2, case .string(let old) = a[0], case .string(let new) = a[1] else {
                throw TemplateError(.type, "replace() arguments must be str")
            }
            let count = a.count > 2 ? (a[2].integer ?? -1) : -1
            try charge(bytes: s.utf8.count)
            let result = try pythonReplace(s, old, new, count, maxBytes: options.limits.maxOutputBytes)
            try checkSize(result.utf8.count)
            return .string(result)
        case "find", "rfind", "count":
            guard case .string(let needle) = a.first ?? .none else { throw TemplateError(.type, "\(name)() argument must be str") }
            let hay = Array(s.utf8), pin = Array(needle.utf8)
            try charge(bytes: hay.count + pin.count)
            if pin.isEmpty { return .int(name == "find" ? 0 : s.unicodeScalars.count + (name == "count" ? 1 : 0)) }
            switch name {
            case "count": return .int(ByteSearch(pin).matches(in: hay).count)
            case "find": return .int(ByteSearch(pin).matches(in: hay, limit: 1).first.map { scalarIndex(ofByte: $0, in: hay) } ?? -1)
            default: return .int(matchesFromRight(of: pin, in: hay, limit: 1).first.map { scalarIndex(ofByte: $0, in: hay) } ?? -1)
            }
        case "join":
            let parts = try iterate(a.first ?? .none).map { part -> String in
                guard case .string(let text) = part else { throw TemplateError(.type, "sequence item: expected str instance, \(part.typeName) found") }
                return text
            }
            let result = parts.joined(separator: s)
            try checkSize(result.utf8.count)
            return .string(result)
        case "removeprefix", "removesuffix":
            guard case .string(let affix) = a.first ?? .none else { throw TemplateError(.type, "\(name)() argument must be str") }
            if name == "removeprefix", hasPrefix(s, affix) {
                return .string(String(decoding: s.utf8.dropFirst(affix.utf8.count), as: UTF8.self))
            }
            if name == "removesuffix", !affix.isEmpty, hasSuffix(s, affix) {
                return .string(String(decoding: s.utf8.dropLast(affix.utf8.count), as: UTF8.self))
            }
            return .string(s)
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .digit || $0.properties.numericType == .decimal })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonSpace))
        case "isupper": return .bool(s.unicodeScalars.contains { $0.properties.isCased } && s == s.uppercased())
        case "islower": return .bool(s.unicodeScalars.contains { $0.properties.isCased } && s == s.lowercased())
        default:
            throw TemplateError(.unsupported, "'str' method '\(name)' is not supported")
        }
    }

    // MARK: Filters and tests (Filters.swift)

    func applyFilter(_ name: String, _ value: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        try Filters(interpreter: self).apply(name, value, positional, keywords)
    }

    func applyTest(_ name: String, _ value: Value, _ arguments: [Value]) throws -> Bool {
        try Filters(interpreter: self).test(name, value, arguments)
    }

    /// Containers built by the template may not nest deeper than the limit: printing, comparing and
    /// freeing values recurse over their nesting.
    func checkedContainer(_ value: Value) throws -> Value {
        var visited = 0
        defer { steps += visited }
        if value.nestingDepth(limit: options.limits.maxNestingDepth, visited: &visited) > options.limits.maxNestingDepth {
            throw TemplateError(.limit, "values nested more than \(options.limits.maxNestingDepth) deep")
        }
        return value
    }

    var maxBytes: Int { options.limits.maxOutputBytes }

    func checkedString(_ text: String) throws -> Value {
        try checkSize(text.utf8.count)
        return .string(text)
    }
}

// MARK: - Python string helpers

func pythonStrip(_ s: String, _ chars: Set<Unicode.Scalar>?, leading: Bool = true, trailing: Bool = true) -> String {
    let scalars = Array(s.unicodeScalars)
    let strip: (Unicode.Scalar) -> Bool = { chars?.contains($0) ?? isPythonSpace($0) }
    var start = 0, end = scalars.count
    if leading { while start < end, strip(scalars[start]) { start += 1 } }
    if trailing { while end > start, strip(scalars[end - 1]) { end -= 1 } }
    return String(scalars: scalars[start..<end])
}

func pythonSplit(_ s: String, _ separator: String?, _ maxSplit: Int, fromRight: Bool = false) throws -> [String] {
    guard let separator else {
        let scalars = Array(s.unicodeScalars)
        func text(_ range: Range<Int>) -> String { String(scalars: scalars[range]) }
        // Runs of whitespace separate; leading and trailing whitespace is dropped.
        var words: [Range<Int>] = []
        var i = 0
        while i < scalars.count {
            while i < scalars.count, isPythonSpace(scalars[i]) { i += 1 }
            if i == scalars.count { break }
            let start = i
            while i < scalars.count, !isPythonSpace(scalars[i]) { i += 1 }
            words.append(start..<i)
        }
        if maxSplit >= 0 && words.count > maxSplit + 1 {
            // The unsplit remainder keeps its inner and outer whitespace, except at the split side.
            if fromRight {
                let kept = words.suffix(maxSplit)
                var headEnd = kept.first?.lowerBound ?? scalars.count
                while headEnd > 0, isPythonSpace(scalars[headEnd - 1]) { headEnd -= 1 }
                return [text(0..<headEnd)] + kept.map(text)
            }
            return words.prefix(maxSplit).map(text) + [text(words[maxSplit].lowerBound..<scalars.count)]
        }
        return words.map(text)
    }
    let bytes = Array(s.utf8), pin = Array(separator.utf8)
    guard !pin.isEmpty else { throw TemplateError(.type, "empty separator") }
    let limit = maxSplit >= 0 ? maxSplit : .max
    // rsplit takes its matches scanning from the right, as Python does ('aaa'.rsplit('aa') is ['a', '']).
    let cuts = fromRight ? matchesFromRight(of: pin, in: bytes, limit: limit) : ByteSearch(pin).matches(in: bytes, limit: limit)
    var parts: [String] = []
    var start = 0
    for cut in cuts {
        parts.append(text(bytes, start..<cut))
        start = cut + pin.count
    }
    parts.append(text(bytes, start..<bytes.count))
    return parts
}

/// Python str.splitlines(): splits on \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029.
func pythonSplitLines(_ s: String) -> [String] {
    let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    var previousCR = false
    for scalar in s.unicodeScalars {
        if scalar == "\n" && previousCR { previousCR = false; continue }
        previousCR = scalar == "\r"
        if breaks.contains(scalar.value) {
            lines.append(String(current))
            current = String.UnicodeScalarView()
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines
}

func hasPrefix(_ s: String, _ prefix: String) -> Bool {
    s.utf8.starts(with: prefix.utf8)
}

func hasSuffix(_ s: String, _ suffix: String) -> Bool {
    s.utf8.count >= suffix.utf8.count && s.utf8.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
}

/// Python str.replace: `count` leftmost non-overlapping matches (all when negative); an empty `old`
/// matches before every scalar and at the end.
func pythonReplace(_ s: String, _ old: String, _ new: String, _ count: Int, maxBytes: Int = Int.max) throws -> String {
    let bytes = Array(s.utf8), pin = Array(old.utf8), replacement = Array(new.utf8)
    let limit = count >= 0 ? count : .max
    // Find the cut points first, so an oversized result is refused before it is built.
    var cuts: [Int]
    if pin.isEmpty {
        cuts = []
        for i in 0...bytes.count where cuts.count < limit && (i == bytes.count || bytes[i] & 0xC0 != 0x80) { cuts.append(i) }
    } else {
        cuts = ByteSearch(pin).matches(in: bytes, limit: limit)
    }
    let size = bytes.count + cuts.count * (replacement.count - pin.count)
    if size > maxBytes {
        throw TemplateError(.limit, "a string of \(size) bytes exceeds the limit of \(maxBytes) bytes")
    }
    var out: [UInt8] = []
    out.reserveCapacity(size)
    var position = 0
    for cut in cuts {
        out.append(contentsOf: bytes[position..<cut])
        out.append(contentsOf: replacement)
        position = cut + pin.count
    }
    out.append(contentsOf: bytes[min(position, bytes.count)...])
    return String(decoding: out, as: UTF8.self)
}

/// Python str.title(): a cased character after an uncased one is upper-cased, the rest lower-cased.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for scalar in s.unicodeScalars {
        let cased = scalar.properties.isCased
        out += previousCased ? String(scalar).lowercased() : (cased ? scalar.properties.titlecaseMapping : String(scalar))
        previousCased = cased
    }
    return out
}

func capitalize(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    return first.properties.titlecaseMapping + String(scalars: s.unicodeScalars.dropFirst()).lowercased()
}

/// C strftime for the directives chat templates use, in the POSIX locale.
func strftime(_ format: String, _ date: Date, _ timeZone: TimeZone) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    let year = c.year!, month = c.month!, day = c.day!, hour = c.hour!, minute = c.minute!, second = c.second!
    let weekday = c.weekday! - 1
    let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
    func pad(_ n: Int, _ width: Int = 2) -> String {
        let text = String(n)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    var out = ""
    var iterator = format.makeIterator()
    while let ch = iterator.next() {
        guard ch == "%" else { out.append(ch); continue }
        guard let directive = iterator.next() else { out.append("%"); break }
        switch directive {
        case "Y": out += String(year)
        case "y": out += pad(year % 100)
        case "m": out += pad(month)
        case "d": out += pad(day)
        case "e": out += (day < 10 ? " " : "") + String(day)
        case "-":
            // glibc's "%-d" style: no padding.
            if let next = iterator.next() {
                switch next {
                case "d": out += String(day)
                case "m": out += String(month)
                case "H": out += String(hour)
                case "I": out += String(hour % 12 == 0 ? 12 : hour % 12)
                case "M": out += String(minute)
                case "S": out += String(second)
                case "j": out += String(dayOfYear)
                default: out += "%-" + String(next)
                }
            }
        case "H": out += pad(hour)
        case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
        case "M": out += pad(minute)
        case "S": out += pad(second)
        case "p": out += hour < 12 ? "AM" : "PM"
        case "b", "h": out += String(months[month - 1].prefix(3))
        case "B": out += months[month - 1]
        case "a": out += String(days[weekday].prefix(3))
        case "A": out += days[weekday]
        case "w": out += String(weekday)
        case "j": out += pad(dayOfYear, 3)
        case "F": out += "\(year)-\(pad(month))-\(pad(day))"
        case "T": out += "\(pad(hour)):\(pad(minute)):\(pad(second))"
        case "D": out += "\(pad(month))/\(pad(day))/\(pad(year % 100))"
        case "%": out += "%"
        default: out += "%" + String(directive)
        }
    }
    return out
}
