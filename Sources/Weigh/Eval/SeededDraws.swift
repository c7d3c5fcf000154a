import SeededRandom

/// The eval's draws (item samples, choice shuffles, few-shot examples): one SplitMix64 stream per
/// name under the run seed, so a draw does not depend on what was drawn before it.
extension SplitMix64 {
    public init(seed: UInt64, stream: String) {
        let digest = SHA256.hash(Array("\(seed):\(stream)".utf8))
        self.init(seed: digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) })
    }
    /// Uniform in 0..<n by rejecting the last partial run of n (the draws cached results were made with).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let x = next()
            if x < limit { return Int(x % bound) }
        }
    }
    /// A Fisher–Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, below(i + 1)) } }
        return p
    }
}
