/// llama.cpp `llm_tokenizer_spm_session`: start from UTF-8 characters, repeatedly merge the adjacent
/// pair whose concatenation is the vocabulary token with the highest score (ties: leftmost), then
/// emit each symbol's token, or its bytes as <0xNN> tokens.
struct SPMSession {
    let tokenizer: Tokenizer
    private var start: [Int32] = []
    private var length: [Int32] = []
    private var prev: [Int32] = []
    private var next: [Int32] = []
    private var heap = Heap<SPMBigram>()

    init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// Tokenizes `text` (spaces already escaped). The text is cut where no vocabulary token can
    /// span the cut (the two characters there never stand next to each other inside a token): no
    /// bigram crosses such a cut, so the pieces merge independently, with the same result, and
    /// each piece keeps a small heap.
    mutating func tokenize(_ text: [UInt8], into out: inout [TokenID], segmented: Bool = true) {
        guard !text.isEmpty else { return }
        guard segmented, let pairs = tokenizer.spmAdjacentPairs else {
            tokenizeSegment(text, 0..<text.count, into: &out)
            return
        }
        var segmentStart = 0
        var previous: UInt32 = 0
        var offset = 0
        while offset < text.count {
            let n = min(utf8Length(text[offset]), text.count - offset)
            var cp: UInt32 = 0
            for k in 0..<n { cp = cp << 8 | UInt32(text[offset + k]) }
            if offset > 0 && pairs.get(UInt64(previous) << 32 | UInt64(cp)) == nil {
                tokenizeSegment(text, segmentStart..<offset, into: &out)
                segmentStart = offset
            }
            previous = cp
            offset += n
        }
        tokenizeSegment(text, segmentStart..<text.count, into: &out)
    }

    private mutating func tokenizeSegment(_ text: [UInt8], _ range: Range<Int>, into out: inout [TokenID]) {
        start.removeAll(keepingCapacity: true)
        length.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll()
        var offset = range.lowerBound
        var index: Int32 = 0
        while offset < range.upperBound {
            let n = min(utf8Length(text[offset]), range.upperBound - offset)
            start.append(Int32(offset))
            length.append(Int32(n))
            offset += n
            prev.append(index - 1)
            next.append(offset == range.upperBound ? -1 : index + 1)
            index += 1
        }
        text.withUnsafeBufferPointer { t in
            let base = t.baseAddress!
            for i in 1..<max(1, start.count) { tryAddBigram(Int32(i - 1), Int32(i), base) }
            while let bigram = heap.pop() {
                let l = Int(bigram.left), r = Int(bigram.right)
                if length[l] == 0 || length[r] == 0 || length[l] + length[r] != bigram.size { continue }
                length[l] += length[r]
                length[r] = 0
                next[l] = next[r]
                if next[r] >= 0 { prev[Int(next[r])] = bigram.left }
                tryAddBigram(prev[l], bigram.left, base)
                tryAddBigram(bigram.left, next[l], base)
            }
            var i = 0
            while i != -1 {
                let id = tokenizer.tokens.lookup(base + Int(start[i]), Int(length[i]))
                if id >= 0 {
                    out.append(id)
                } else {
                    for j in 0..<Int(length[i]) { out.append(tokenizer.byteTokens[Int(t[Int(start[i]) + j])]) }
                }
                i = Int(next[i])
            }
        }
    }

    private mutating func tryAddBigram(_ left: Int32, _ right: Int32, _ base: UnsafePointer<UInt8>) {
        guard left >= 0, right >= 0 else { return }
        let size = length[Int(left)] + length[Int(right)]
        let id = tokenizer.tokens.lookup(base + Int(start[Int(left)]), Int(size))
        guard id >= 0 else { return }
        heap.push(SPMBigram(score: tokenizer.scores[Int(id)], left: left, right: right, size: size))
    }
}

struct SPMBigram: HeapElement {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32
    /// Higher score first, then the leftmost (llm_bigram_spm::comparator).
    @inline(__always) static func before(_ a: Self, _ b: Self) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }
}

/// Byte length of a UTF-8 sequence from its first byte (llama.cpp `unicode_len_utf8`).
@inline(__always) func utf8Length(_ b: UInt8) -> Int {
    switch b >> 4 {
    case 0xC, 0xD: 2
    case 0xE: 3
    case 0xF: 4
    default: 1
    }
}

protocol HeapElement {
    static func before(_ a: Self, _ b: Self) -> Bool
}

/// A binary heap whose top is the element that comes `before` all others.
struct Heap<T: HeapElement> {
    private var items: [T] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ x: T) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !T.before(items[i], items[p]) { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> T? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < n && T.before(items[l], items[best]) { best = l }
                if r < n && T.before(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}

/// Every pair of characters that stand next to each other inside some token (each character as
/// its UTF-8 bytes packed in a UInt32, the way `SPMSession` cuts text).
func adjacentCharacterPairs(_ table: ByteTable) -> PairTable {
    var pairs = PairTable(capacity: table.count * 4)
    for e in 0..<table.count {
        let t = table.key(at: e)
        var previous: UInt32? = nil
        var i = t.startIndex
        while i < t.endIndex {
            let n = min(utf8Length(t[i]), t.endIndex - i)
            var cp: UInt32 = 0
            for k in 0..<n { cp = cp << 8 | UInt32(t[i + k]) }
            if let p = previous { pairs.insertIfAbsent(UInt64(p) << 32 | UInt64(cp), 1) }
            previous = cp
            i += n
        }
    }
    return pairs
}
