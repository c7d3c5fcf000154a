/// llama.cpp `llm_tokenizer_bpe_session`: pre-tokenize into words, map each word's bytes to GPT-2's
/// byte-level characters, then repeatedly merge the adjacent pair with the lowest merge rank
/// (ties: leftmost), and emit each symbol's token.
struct BPESession {
    let tokenizer: Tokenizer
    let merges: MergeTable
    let pre: PreTokenizer
    private var cps: [UInt32] = []
    private var cls: [UInt8] = []
    private var word: [UInt8] = []
    private var start: [Int32] = []
    private var length: [Int32] = []
    private var symbol: [Int32] = []
    private var prev: [Int32] = []
    private var next: [Int32] = []
    private var heap = Heap<BPEBigram>()
    /// Words already merged in this session (word bytes → range in `cachedTokens`): text repeats words.
    private var cache = ByteTable(capacity: 4096)
    private var cachedRanges: [Range<Int32>] = []
    private var cachedTokens: [TokenID] = []
    private static let cacheLimit = 200_000

    init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        self.merges = tokenizer.merges!
        self.pre = tokenizer.preTokenizer!
    }

    mutating func tokenize(_ bytes: ArraySlice<UInt8>, into out: inout [TokenID]) {
        cps.removeAll(keepingCapacity: true)
        decodeUTF8(bytes, into: &cps)
        cls.removeAll(keepingCapacity: true)
        for c in cps { cls.append(UnicodeClass.of(c).rawValue) }
        let words = cps.withUnsafeBufferPointer { c in cls.withUnsafeBufferPointer { k in pre.split(c, k) } }
        var at = 0
        for n in words {
            encodeWord(at..<(at + n))
            at += n
            let hit = cache.lookup(word)
            if hit >= 0 {
                out.append(contentsOf: cachedTokens[Int(cachedRanges[Int(hit)].lowerBound)..<Int(cachedRanges[Int(hit)].upperBound)])
                continue
            }
            let before = out.count
            mergeWord(into: &out)
            if cachedRanges.count < Self.cacheLimit {
                cache.insert(word, value: Int32(cachedRanges.count))
                cachedRanges.append(Int32(cachedTokens.count)..<Int32(cachedTokens.count + out.count - before))
                cachedTokens.append(contentsOf: out[before...])
            }
        }
    }

    /// The word's UTF-8 bytes as byte-level characters, one symbol per byte.
    private mutating func encodeWord(_ range: Range<Int>) {
        word.removeAll(keepingCapacity: true)
        start.removeAll(keepingCapacity: true)
        length.removeAll(keepingCapacity: true)
        symbol.removeAll(keepingCapacity: true)
        var utf8: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        ByteLevel.flat.withUnsafeBufferPointer { flat in
            merges.byteSymbols.withUnsafeBufferPointer { byteSymbols in
                for i in range {
                    let n = encodeUTF8(cps[i], &utf8)
                    for k in 0..<n {
                        let b = Int(k == 0 ? utf8.0 : k == 1 ? utf8.1 : k == 2 ? utf8.2 : utf8.3)
                        // Each byte-level character is 1 or 2 UTF-8 bytes: flat[2b], flat[2b + 1] (0 if unused).
                        let c0 = flat[2 * b], c1 = flat[2 * b + 1]
                        start.append(Int32(word.count))
                        length.append(c1 == 0 ? 1 : 2)
                        symbol.append(byteSymbols[b])
                        word.append(c0)
                        if c1 != 0 { word.append(c1) }
                    }
                }
            }
        }
    }

    private mutating func mergeWord(into out: inout [TokenID]) {
        let tokens = tokenizer.tokens
        word.withUnsafeBufferPointer { w in
            let base = w.baseAddress!
            if tokenizer.ignoreMerges {
                let id = tokens.lookup(base, w.count)
                if id >= 0 { out.append(id); return }
            }
            let count = start.count
            prev.removeAll(keepingCapacity: true)
            next.removeAll(keepingCapacity: true)
            for i in 0..<count {
                prev.append(Int32(i - 1))
                next.append(i == count - 1 ? -1 : Int32(i + 1))
            }
            heap.removeAll()
            for i in 1..<max(1, count) { addBigram(Int32(i - 1), Int32(i)) }
            while let b = heap.pop() {
                let l = Int(b.left), r = Int(b.right)
                if length[l] == 0 || length[r] == 0 || symbol[l] != b.leftSymbol || symbol[r] != b.rightSymbol { continue }
                length[l] += length[r]
                length[r] = 0
                symbol[l] = b.merged
                next[l] = next[r]
                if next[r] >= 0 { prev[Int(next[r])] = b.left }
                addBigram(prev[l], b.left)
                addBigram(b.left, next[l])
            }
            var i = count > 0 ? 0 : -1
            while i != -1 {
                let s = Int(start[i]), n = Int(length[i])
                let id = tokens.lookup(base + s, n)
                if id >= 0 {
                    out.append(id)
                } else {
                    // llama.cpp looks each byte up as a one-byte token; bytes that are not tokens vanish.
                    for j in s..<(s + n) {
                        let one = tokens.lookup(base + j, 1)
                        if one >= 0 { out.append(one) }
                    }
                }
                i = Int(next[i])
            }
        }
    }

    private mutating func addBigram(_ left: Int32, _ right: Int32) {
        guard left >= 0, right >= 0 else { return }
        let a = symbol[Int(left)], b = symbol[Int(right)]
        guard a >= 0, b >= 0, let m = merges.merge(a, b) else { return }
        heap.push(BPEBigram(rank: m.rank, left: left, right: right, leftSymbol: a, rightSymbol: b, merged: m.merged))
    }
}

struct BPEBigram: HeapElement {
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftSymbol: Int32
    var rightSymbol: Int32
    var merged: Int32
    /// Lowest rank first, then the leftmost (llm_bigram_bpe::comparator).
    @inline(__always) static func before(_ a: Self, _ b: Self) -> Bool {
        a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
    }
}

/// Decodes valid UTF-8 (the bytes of a Swift String) into code points.
func decodeUTF8(_ bytes: ArraySlice<UInt8>, into out: inout [UInt32]) {
    var i = bytes.startIndex
    let end = bytes.endIndex
    while i < end {
        let b0 = UInt32(bytes[i])
        let n = utf8Length(bytes[i])
        guard i + n <= end else { out.append(0xFFFD); i += 1; continue }
        switch n {
        case 1: out.append(b0)
        case 2: out.append((b0 & 0x1F) << 6 | UInt32(bytes[i + 1]) & 0x3F)
        case 3: out.append((b0 & 0x0F) << 12 | (UInt32(bytes[i + 1]) & 0x3F) << 6 | UInt32(bytes[i + 2]) & 0x3F)
        default:
            out.append((b0 & 0x07) << 18 | (UInt32(bytes[i + 1]) & 0x3F) << 12 | (UInt32(bytes[i + 2]) & 0x3F) << 6
                | UInt32(bytes[i + 3]) & 0x3F)
        }
        i += n
    }
}

@inline(__always) func encodeUTF8(_ c: UInt32, _ out: inout (UInt8, UInt8, UInt8, UInt8)) -> Int {
    if c < 0x80 { out.0 = UInt8(c); return 1 }
    if c < 0x800 { out.0 = UInt8(0xC0 | c >> 6); out.1 = UInt8(0x80 | c & 0x3F); return 2 }
    if c < 0x10000 {
        out.0 = UInt8(0xE0 | c >> 12); out.1 = UInt8(0x80 | (c >> 6) & 0x3F); out.2 = UInt8(0x80 | c & 0x3F)
        return 3
    }
    out.0 = UInt8(0xF0 | c >> 18); out.1 = UInt8(0x80 | (c >> 12) & 0x3F)
    out.2 = UInt8(0x80 | (c >> 6) & 0x3F); out.3 = UInt8(0x80 | c & 0x3F)
    return 4
}
