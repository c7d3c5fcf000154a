/// A piece of text before tokenizing: raw bytes, or a special token already matched.
enum Fragment: Equatable {
    case text(Range<Int>)
    case token(TokenID)
}

/// A byte trie of the special tokens, to find which of them occur in a text in one pass.
struct SpecialMatcher: Sendable {
    /// (node << 8 | byte) → child node
    private var edges = PairTable(capacity: 64)
    /// The token ending at each node, or -1.
    private var terminal: [TokenID] = [-1]
    private var firstBytes = [Bool](repeating: false, count: 256)

    init(tokens: [[UInt8]], ids: [TokenID]) {
        edges = PairTable(capacity: tokens.reduce(0) { $0 + $1.count })
        for (t, id) in zip(tokens, ids) where !t.isEmpty {
            firstBytes[Int(t[0])] = true
            var node = 0
            for b in t {
                let key = UInt64(node) << 8 | UInt64(b)
                if let child = edges.get(key) {
                    node = Int(child)
                } else {
                    terminal.append(-1)
                    edges.insertIfAbsent(key, UInt64(terminal.count - 1))
                    node = terminal.count - 1
                }
            }
            terminal[node] = id
        }
    }

    /// Every special token that occurs somewhere in `text`.
    func occurring(in text: [UInt8]) -> Set<TokenID> {
        var found = Set<TokenID>()
        text.withUnsafeBufferPointer { t in
            for start in 0..<t.count where firstBytes[Int(t[start])] {
                var node = 0
                var i = start
                while i < t.count, let child = edges.get(UInt64(node) << 8 | UInt64(t[i])) {
                    node = Int(child)
                    if terminal[node] >= 0 { found.insert(terminal[node]) }
                    i += 1
                }
            }
        }
        return found
    }
}

extension Tokenizer {
    /// llama.cpp `tokenizer_st_partition`: each special token in turn, longest first, splits every
    /// remaining text fragment at all of its occurrences, left to right. Control and unknown tokens
    /// take part only when `parseSpecial`.
    func partition(_ text: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<text.count)]
        let present = specialMatcher.occurring(in: text)
        guard !present.isEmpty else { return fragments }
        for id in specialTokens where present.contains(id) {
            if !parseSpecial && !attributes[Int(id)].isDisjoint(with: [.control, .unknown]) { continue }
            let needle = Array(tokens.key(at: Int(id)))
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count + 4)
            for fragment in fragments {
                guard case .text(let range) = fragment else { next.append(fragment); continue }
                var from = range.lowerBound
                while let m = find(needle, in: text, from: from, to: range.upperBound) {
                    if m > from { next.append(.text(from..<m)) }
                    next.append(.token(id))
                    from = m + needle.count
                }
                if from < range.upperBound { next.append(.text(from..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    private func find(_ needle: [UInt8], in text: [UInt8], from: Int, to end: Int) -> Int? {
        guard needle.count <= end - from else { return nil }
        let first = needle[0]
        var i = from
        while i + needle.count <= end {
            if text[i] == first {
                var j = 1
                while j < needle.count && text[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
