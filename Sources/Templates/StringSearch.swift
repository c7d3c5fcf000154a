/// Python's str search methods on UTF-8 bytes, in time linear in the haystack and the needle.
/// Valid UTF-8 is self-synchronizing, so the bytes of a needle match only at scalar boundaries of
/// the haystack, and byte matches are exactly Python's code-point matches.
struct ByteSearch {
    let needle: [UInt8]
    /// Knuth–Morris–Pratt failure function: the longest proper border of each prefix of `needle`.
    private let border: [Int32]

    /// `needle` must not be empty.
    init(_ needle: [UInt8]) {
        precondition(!needle.isEmpty && needle.count < Int(Int32.max))
        self.needle = needle
        var border = [Int32](repeating: 0, count: needle.count)
        var k = 0
        for i in 1..<needle.count {
            while k > 0 && needle[i] != needle[k] { k = Int(border[k - 1]) }
            if needle[i] == needle[k] { k += 1 }
            border[i] = Int32(k)
        }
        self.border = border
    }

    /// Start offsets of the leftmost non-overlapping matches, left to right, at most `limit` of them
    /// (the matches Python's `count`, `replace` and `split` use).
    func matches(in hay: [UInt8], limit: Int = .max) -> [Int] {
        var result: [Int] = []
        guard limit > 0, hay.count >= needle.count else { return result }
        let m = needle.count
        needle.withUnsafeBufferPointer { p in
            border.withUnsafeBufferPointer { b in
                hay.withUnsafeBufferPointer { h in
                    var k = 0
                    for i in 0..<h.count {
                        let c = h[i]
                        while k > 0 && c != p[k] { k = Int(b[k - 1]) }
                        if c == p[k] { k += 1 }
                        if k == m {
                            result.append(i + 1 - m)
                            if result.count == limit { return }
                            k = 0
                        }
                    }
                }
            }
        }
        return result
    }
}

/// Start offsets of the non-overlapping occurrences of non-empty `needle` in `hay`, at most `limit`,
/// found scanning from the right as Python's `rfind` and `rsplit` do; in ascending order.
func matchesFromRight(of needle: [UInt8], in hay: [UInt8], limit: Int = .max) -> [Int] {
    let reversed = ByteSearch(needle.reversed()).matches(in: hay.reversed(), limit: limit)
    return reversed.reversed().map { hay.count - $0 - needle.count }
}

/// The number of scalars encoded in the first `offset` bytes of UTF-8 text (Python's str index of a byte offset).
func scalarIndex(ofByte offset: Int, in bytes: [UInt8]) -> Int {
    var count = 0
    for i in 0..<offset where bytes[i] & 0xC0 != 0x80 { count += 1 }
    return count
}

/// Text of a range of UTF-8 bytes that starts and ends on scalar boundaries.
func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
    String(decoding: bytes[range], as: UTF8.self)
}

extension String {
    /// A string of scalars, built in one pass (appending sequences to a `String.UnicodeScalarView`
    /// one at a time costs time proportional to the view's length each time).
    init<S: Sequence>(scalars: S) where S.Element == Unicode.Scalar {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.underestimatedCount)
        for scalar in scalars { UTF8.encode(scalar) { bytes.append($0) } }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
