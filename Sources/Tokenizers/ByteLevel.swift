/// GPT-2's byte-to-unicode mapping (openai/gpt-2 encoder.py `bytes_to_unicode`; llama.cpp
/// unicode.cpp `unicode_byte_to_utf8_map`): printable Latin-1 bytes stand for themselves, the other
/// 68 bytes take code points 256, 257, ... in byte order.
enum ByteLevel {
    /// The code point that stands for each byte.
    static let codePoints: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var printable = [Bool](repeating: false, count: 256)
        for b in 0x21...0x7E { printable[b] = true }
        for b in 0xA1...0xAC { printable[b] = true }
        for b in 0xAE...0xFF { printable[b] = true }
        var n: UInt32 = 0
        for b in 0..<256 {
            if printable[b] { map[b] = UInt32(b) } else { map[b] = 256 + n; n += 1 }
        }
        return map
    }()

    /// The UTF-8 bytes of the code point that stands for each byte.
    static let encoded: [[UInt8]] = codePoints.map { Array(String(Unicode.Scalar($0)!).utf8) }

    /// `encoded` as two bytes per byte value, the second 0 where the character takes one byte.
    static let flat: [UInt8] = encoded.flatMap { $0.count == 1 ? [$0[0], 0] : [$0[0], $0[1]] }

    /// Code point → byte, for code points below 512 (all that the mapping uses); -1 elsewhere.
    static let decoding: [Int16] = {
        var d = [Int16](repeating: -1, count: 512)
        for (b, cp) in codePoints.enumerated() { d[Int(cp)] = Int16(b) }
        return d
    }()

    /// A byte-level token's text back to bytes (llama.cpp `llama_decode_text`), with its
    /// "[UNK_BYTE_0x..]" marker for code points outside the mapping.
    static func decode(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
            let cp = scalar.value
            if cp < 512, decoding[Int(cp)] >= 0 {
                out.append(UInt8(decoding[Int(cp)]))
            } else {
                out.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
                for b in String(scalar).utf8 { out.append(contentsOf: Array(String(b, radix: 16).leftPadded(to: 2).utf8)) }
                out.append(contentsOf: text)
                out.append(0x5D)
            }
        }
        return out
    }
}

/// Open-addressing map from UInt64 to UInt64.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: n)
        values = [UInt64](repeating: 0, count: n)
        mask = n - 1
    }

    @inline(__always) private static func hash(_ k: UInt64) -> Int {
        var x = k &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 32
        return Int(truncatingIfNeeded: x)
    }

    @inline(__always) func get(_ k: UInt64) -> UInt64? {
        keys.withUnsafeBufferPointer { keys in
            var i = Self.hash(k) & mask
            while true {
                let key = keys[i]
                if key == k { return values[i] }
                if key == Self.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// Inserts unless the key is present (first insertion wins, as `unordered_map::emplace`).
    mutating func insertIfAbsent(_ k: UInt64, _ v: UInt64) {
        if (count + 1) * 2 > keys.count { grow() }
        var i = Self.hash(k) & mask
        while true {
            if keys[i] == k { return }
            if keys[i] == Self.empty {
                keys[i] = k; values[i] = v; count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
        values = [UInt64](repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for (k, v) in zip(oldKeys, oldValues) where k != Self.empty { insertIfAbsent(k, v) }
    }
}

/// BPE merge ranks (`tokenizer.ggml.merges`, "left right" per line, rank = line number). Strings
/// are interned so a merge is looked up by a pair of integers.
struct MergeTable: Sendable {
    var interned = ByteTable(capacity: 1024)
    /// (left << 32 | right) → (rank << 32 | merged)
    var pairs: PairTable
    /// Interned id of each byte's byte-level character, or -1.
    var byteSymbols = [Int32](repeating: -1, count: 256)

    init(merges: [String]) {
        pairs = PairTable(capacity: merges.count)
        interned = ByteTable(capacity: merges.count * 2)
        for (rank, line) in merges.enumerated() {
            let bytes = Array(line.utf8)
            // word.find(' ', 1): the first space after the first byte.
            guard bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
            let a = Array(bytes[..<space]), b = Array(bytes[(space + 1)...])
            let ia = intern(a), ib = intern(b), ic = intern(a + b)
            pairs.insertIfAbsent(UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib)), UInt64(rank) << 32 | UInt64(UInt32(ic)))
        }
        for b in 0..<256 { byteSymbols[b] = interned.lookup(ByteLevel.encoded[b]) }
    }

    private mutating func intern(_ s: [UInt8]) -> Int32 {
        interned.insert(s, value: Int32(interned.count))
    }

    @inline(__always) func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        guard let v = pairs.get(UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))) else { return nil }
        return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
    }
}
