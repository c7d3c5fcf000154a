// A context-free grammar over bytes, the form in which structured output (JSON, a JSON Schema, a
// tool call) constrains decoding. Tokens are byte strings, so the grammar reads bytes too: UTF-8
// is spelled out in the rules that accept non-ASCII text (see `GrammarBuilder.utf8Character`).
// The shape is llama.cpp's GBNF after parsing: rules of alternatives, each a sequence of byte sets
// and rule references; repetition is written with right recursion, which the matcher runs in
// constant stack depth.

/// A set of bytes (256 bits).
public struct ByteSet: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public init(_ bytes: some Sequence<UInt8>) {
        for b in bytes { insert(b) }
    }

    /// Every byte in `lo...hi`.
    public init(range: ClosedRange<UInt8>) {
        for b in range { insert(b) }
    }

    public static let all: ByteSet = { var s = ByteSet(); s.words = (~0, ~0, ~0, ~0); return s }()

    public mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    public func contains(_ b: UInt8) -> Bool {
        let w: UInt64
        switch b >> 6 {
        case 0: w = words.0
        case 1: w = words.1
        case 2: w = words.2
        default: w = words.3
        }
        return w & (UInt64(1) << UInt64(b & 63)) != 0
    }

    /// The bytes not in this set.
    public var inverted: ByteSet {
        var s = ByteSet()
        s.words = (~words.0, ~words.1, ~words.2, ~words.3)
        return s
    }

    public func union(_ other: ByteSet) -> ByteSet {
        var s = ByteSet()
        s.words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
        return s
    }

    public static func == (a: ByteSet, b: ByteSet) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// One item of a rule's alternative: a byte from a set, or a whole rule.
public enum GrammarElement: Hashable, Sendable {
    case bytes(ByteSet)
    case rule(Int)
}

/// A finished grammar: rules by index, each a list of alternatives; `root` is where a match starts.
public struct Grammar: Sendable {
    public let rules: [[[GrammarElement]]]
    public let names: [String]
    public let root: Int
}

public enum GrammarError: Error, CustomStringConvertible, Equatable {
    /// The grammar cannot be matched as written (a rule that can call itself before reading a byte).
    case leftRecursive(rule: String)
    case undefinedRule(String)

    public var description: String {
        switch self {
        case .leftRecursive(let r): "grammar rule '\(r)' refers to itself before matching any text"
        case .undefinedRule(let r): "grammar rule '\(r)' is used but never defined"
        }
    }
}

/// Builds a grammar rule by rule. Rules may refer to rules defined later (`declare`, then `define`).
public struct GrammarBuilder: Sendable {
    private var rules: [[[GrammarElement]]?] = []
    private var names: [String] = []
    private var byName: [String: Int] = [:]

    public init() {}

    /// The index of the rule named `name`, reserving it if new.
    public mutating func declare(_ name: String) -> Int {
        if let i = byName[name] { return i }
        rules.append(nil)
        names.append(name)
        byName[name] = rules.count - 1
        return rules.count - 1
    }

    public func isDefined(_ name: String) -> Bool { byName[name].map { rules[$0] != nil } ?? false }

    /// The index of the rule named `name` if it was declared (defined or not yet).
    public func index(of name: String) -> Int? { byName[name] }

    /// Reserves a new rule named after `hint`, unique in this grammar.
    public mutating func declareFresh(_ hint: String) -> Int { declare(uniqueName(hint)) }

    /// Sets the alternatives of rule `index`.
    public mutating func define(_ index: Int, _ alternatives: [[GrammarElement]]) { rules[index] = alternatives }

    /// Defines `name` (reserving it if new) and returns a reference to it.
    @discardableResult
    public mutating func rule(_ name: String, _ alternatives: [[GrammarElement]]) -> GrammarElement {
        let i = declare(name)
        define(i, alternatives)
        return .rule(i)
    }

    /// A new rule with a name derived from `hint`, unique in this grammar.
    public mutating func fresh(_ hint: String, _ alternatives: [[GrammarElement]]) -> GrammarElement {
        rule(uniqueName(hint), alternatives)
    }

    /// The bytes of `text`, in order.
    public static func literal(_ text: String) -> [GrammarElement] { text.utf8.map { .bytes(ByteSet([$0])) } }

    /// `items` zero or more times: R ::= items R | ε.
    public mutating func star(_ hint: String, _ items: [GrammarElement]) -> GrammarElement {
        let i = declare(uniqueName(hint))
        define(i, [items + [.rule(i)], []])
        return .rule(i)
    }

    /// `items` between `min` and `max` times (`max` nil: no bound).
    public mutating func repeated(_ hint: String, _ items: [GrammarElement], min: Int, max: Int?) -> [GrammarElement] {
        var out: [GrammarElement] = []
        for _ in 0..<min { out += items }
        guard let max else { return out + [star(hint, items)] }
        // At most max - min more, as nested optionals: O = ε | items O' ... (right recursion, finite).
        var tail: [GrammarElement] = []
        for _ in 0..<Swift.max(0, max - min) {
            tail = [fresh(hint, [items + tail, []])]
        }
        return out + tail
    }

    /// `items` or nothing.
    public mutating func optional(_ hint: String, _ items: [GrammarElement]) -> GrammarElement {
        fresh(hint, [items, []])
    }

    private func uniqueName(_ hint: String) -> String {
        var name = hint
        var k = 1
        while byName[name] != nil { k += 1; name = "\(hint)-\(k)" }
        return name
    }

    /// One UTF-8 encoded character whose first byte is not ASCII (well-formed sequences only:
    /// no overlongs, no surrogates, nothing past U+10FFFF).
    public mutating func utf8NonASCII() -> GrammarElement {
        if let i = byName["utf8-char"], rules[i] != nil { return .rule(i) }
        let cont = GrammarElement.bytes(ByteSet(range: 0x80...0xBF))
        func b(_ r: ClosedRange<UInt8>) -> GrammarElement { .bytes(ByteSet(range: r)) }
        return rule("utf8-char", [
            [b(0xC2...0xDF), cont],
            [b(0xE0...0xE0), b(0xA0...0xBF), cont],
            [b(0xE1...0xEC), cont, cont],
            [b(0xED...0xED), b(0x80...0x9F), cont],
            [b(0xEE...0xEF), cont, cont],
            [b(0xF0...0xF0), b(0x90...0xBF), cont, cont],
            [b(0xF1...0xF3), cont, cont, cont],
            [b(0xF4...0xF4), b(0x80...0x8F), cont, cont],
        ])
    }

    /// The grammar, starting at rule `root`. Throws for a rule used but never defined, and for left
    /// recursion (a rule reachable from itself without reading a byte), which no matcher can run.
    public func build(root: String) throws(GrammarError) -> Grammar {
        guard let r = byName[root], rules[r] != nil else { throw .undefinedRule(root) }
        var done: [[[GrammarElement]]] = []
        for (i, alternatives) in rules.enumerated() {
            guard let alternatives else { throw .undefinedRule(names[i]) }
            done.append(alternatives)
        }
        let grammar = Grammar(rules: done, names: names, root: r)
        try grammar.checkLeftRecursion()
        return grammar
    }
}

extension Grammar {
    /// Which rules can match the empty string.
    func nullable() -> [Bool] {
        var null = [Bool](repeating: false, count: rules.count)
        var changed = true
        while changed {
            changed = false
            for (i, alternatives) in rules.enumerated() where !null[i] {
                let canBeEmpty = alternatives.contains { alt in
                    alt.allSatisfy { if case .rule(let j) = $0 { null[j] } else { false } }
                }
                if canBeEmpty { null[i] = true; changed = true }
            }
        }
        return null
    }

    func checkLeftRecursion() throws(GrammarError) {
        let null = nullable()
        // Edges i -> j when rule j can be entered from rule i before any byte is read.
        var first = [[Int]](repeating: [], count: rules.count)
        for (i, alternatives) in rules.enumerated() {
            for alt in alternatives {
                for element in alt {
                    guard case .rule(let j) = element else { break }
                    first[i].append(j)
                    if !null[j] { break }
                }
            }
        }
        // A cycle in that graph is left recursion: depth-first search with colours.
        var colour = [UInt8](repeating: 0, count: rules.count)
        for start in 0..<rules.count where colour[start] == 0 {
            var stack: [(Int, Int)] = [(start, 0)]
            colour[start] = 1
            while let (node, next) = stack.last {
                if next < first[node].count {
                    stack[stack.count - 1].1 += 1
                    let j = first[node][next]
                    if colour[j] == 1 { throw .leftRecursive(rule: names[j]) }
                    if colour[j] == 0 { colour[j] = 1; stack.append((j, 0)) }
                } else {
                    colour[node] = 2
                    stack.removeLast()
                }
            }
        }
    }
}
