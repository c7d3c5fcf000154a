/// A hash map from byte strings to token ids that looks keys up straight from a buffer, without
/// building a `String`. Swift `String` keys would be wrong here as well as slow: `String` equality
/// is canonical equivalence, so "é" and "e\u{301}" (two different tokens) would collide.
struct ByteTable: Sendable {
    struct Entry: Sendable {
        var start: Int32
        var length: Int32
        var value: Int32
    }

    private(set) var storage: [UInt8] = []
    private(set) var entries: [Entry] = []
    /// Open addressing, linear probing; each slot holds (hash high bits << 32 | entry index + 1), 0 when empty.
    private var slots: [UInt64]
    private var mask: Int
    private(set) var maxLength = 0

    init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        slots = [UInt64](repeating: 0, count: n)
        mask = n - 1
    }

    var count: Int { entries.count }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>?, _ n: Int) -> UInt64 {
        // FNV-1a, 64-bit, with a final mix.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        if let p {
            for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3 }
        }
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        h ^= h >> 32
        return h
    }

    /// The value stored for the bytes `p[0..<n]`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        if n > maxLength { return -1 }
        let h = Self.hash(p, n)
        let tag = h >> 32
        return slots.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { entries in
                storage.withUnsafeBufferPointer { storage in
                    var i = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let s = slots[i]
                        if s == 0 { return -1 }
                        if s >> 32 == tag {
                            let e = entries[Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1]
                            if Int(e.length) == n && (n == 0 || memcmpBytes(storage.baseAddress! + Int(e.start), p, n)) {
                                return e.value
                            }
                        }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    func lookup(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else {
                var zero: UInt8 = 0
                return lookup(&zero, 0)
            }
            return lookup(base, b.count)
        }
    }

    /// Inserts `bytes` with `value` unless present; returns the value now stored.
    @discardableResult
    mutating func insert(_ bytes: [UInt8], value: Int32) -> Int32 {
        let existing = lookup(bytes)
        if existing >= 0 { return existing }
        if (entries.count + 1) * 2 > slots.count { grow() }
        entries.append(Entry(start: Int32(storage.count), length: Int32(bytes.count), value: value))
        storage.append(contentsOf: bytes)
        maxLength = max(maxLength, bytes.count)
        place(entries.count - 1)
        return value
    }

    /// The bytes of entry `i` (entries are numbered in insertion order).
    func key(at i: Int) -> ArraySlice<UInt8> {
        let e = entries[i]
        return storage[Int(e.start)..<Int(e.start + e.length)]
    }

    private mutating func place(_ entry: Int) {
        let e = entries[entry]
        let h = storage.withUnsafeBufferPointer { e.length == 0 ? Self.hash(nil, 0) : Self.hash($0.baseAddress! + Int(e.start), Int(e.length)) }
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = (h >> 32) << 32 | UInt64(entry + 1)
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        for e in 0..<entries.count { place(e) }
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}
