/// SplitMix64 (Steele, Lea, Flood 2014): the project's one seeded generator. Small, fast and the
/// same on every platform, so sampling, bootstrap resampling, eval draws, bench prompts and
/// synthetic weights repeat exactly from a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in 0..<n (Lemire's multiply-shift with rejection).
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        while true {
            let r = next().multipliedFullWidth(by: bound)
            if r.low >= (0 &- bound) % bound { return Int(r.high) }
        }
    }
}
