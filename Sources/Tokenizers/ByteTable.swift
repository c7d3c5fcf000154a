/// A hash map from byte strings to token ids that looks keys up straight from a buffer, without
/// building a `String`. Swift `String` keys would be wrong here as well as slow: `String` equality
/// is canonical equivalence, so "é" and "e\u{301}" (two different tokens) would collide.
struct ByteTable: Sendable {
    private(set) var storage: [UInt8] = []
    private(set) var starts: [Int32] = []
    private(set) var lengths: [Int32] = []
    private(set) var values: [Int32] = []
    /// Open addressing, linear probing; each slot holds an entry index + 1, or 0 when empty.
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        slots = [Int32](repeating: 0, count: n)
        mask = n - 1
    }

    var count: Int { values.count }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>?, _ n: Int) -> Int {
        guard let p else { return 0 }
        // FNV-1a, 64-bit.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<n {
            h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// The value stored for the bytes `p[0..<n]`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let h = n == 0 ? Self.hash(nil, 0) : Self.hash(p, n)
        return slots.withUnsafeBufferPointer { slots in
            storage.withUnsafeBufferPointer { storage in
                starts.withUnsafeBufferPointer { starts in
                    lengths.withUnsafeBufferPointer { lengths in
                        var i = h & mask
                        while true {
                            let e = Int(slots[i])
                            if e == 0 { return -1 }
                            if Int(lengths[e - 1]) == n {
                                let s = Int(starts[e - 1])
                                if n == 0 || memcmpBytes(storage.baseAddress! + s, p, n) {
                                    return values[e - 1]
                                }
                            }
                            i = (i + 1) & mask
                        }
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

    func lookup<S: Sequence<UInt8>>(_ s: S) -> Int32 { lookup(Array(s)) }

    /// Inserts `bytes` with `value` unless present; returns the value now stored.
    @discardableResult
    mutating func insert(_ bytes: [UInt8], value: Int32) -> Int32 {
        let existing = lookup(bytes)
        if existing >= 0 { return existing }
        if (values.count + 1) * 2 > slots.count { grow() }
        starts.append(Int32(storage.count))
        lengths.append(Int32(bytes.count))
        storage.append(contentsOf: bytes)
        values.append(value)
        place(values.count - 1)
        return value
    }

    /// The bytes of entry `i` (entries are numbered in insertion order).
    func key(at i: Int) -> ArraySlice<UInt8> {
        storage[Int(starts[i])..<Int(starts[i] + lengths[i])]
    }

    private mutating func place(_ entry: Int) {
        let s = Int(starts[entry]), n = Int(lengths[entry])
        let h = storage.withUnsafeBufferPointer { n == 0 ? Self.hash(nil, 0) : Self.hash($0.baseAddress! + s, n) }
        var i = h & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = Int32(entry + 1)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        storage.reserveCapacity(storage.count * 2)
        for e in 0..<values.count { place(e) }
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}
