import GGUF
import SeededRandom

/// Random weights in ggml's block formats, for models whose speed and memory are measured without their real
/// weights. Every block is valid the way a quantizer would write it: finite F16 scales, Q8_0 values in -127...127,
/// K-quant sub-block scales in 6 bits (Q4_K, Q5_K) or positive int8 (Q6_K), and the weights of a block centred on
/// zero with standard deviation about `sigma` (Q4_K/Q5_K: each sub-block's minimum is set to half its range).
/// The values come from one SplitMix64 stream per generator, so the same seed and the same sequence of fills give
/// the same bytes whatever the chunk sizes.
public struct SyntheticWeights {
    public var rng: SplitMix64
    public let type: GGMLType
    public let sigma: Float

    /// Types `fill` writes: what llama.cpp's quantization recipes give weights and norms.
    public static let types: Set<GGMLType> = [.f32, .f16, .q4_0, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K]

    public init(type: GGMLType, sigma: Float, seed: UInt64) throws(ComputeError) {
        guard Self.types.contains(type) else { throw .unsupportedType(type) }
        self.type = type
        self.sigma = sigma
        rng = SplitMix64(seed: seed)
    }

    /// Fills `dst`, a whole number of `type`'s blocks, with the next random blocks. F32 tensors (norm weights,
    /// biases) get `center` plus uniform noise of standard deviation `sigma`.
    public mutating func fill(_ dst: UnsafeMutableRawBufferPointer, center: Float = 0) {
        let (_, blockBytes) = type.blockLayout
        precondition(dst.count % blockBytes == 0, "a whole number of blocks")
        guard let base = dst.baseAddress else { return }
        let blocks = dst.count / blockBytes
        switch type {
        case .f32:
            let a = sigma * 3.0.squareRoot().float
            for i in 0..<blocks { base.storeBytes(of: (center + a * uniform()).bitPattern, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            let a = sigma * 3.0.squareRoot().float
            var i = 0
            while i < blocks {
                let r = rng.next()
                for k in 0..<min(4, blocks - i) {
                    let u = Float(UInt16(truncatingIfNeeded: r >> (16 * k))) / 32768 - 1
                    base.storeBytes(of: Float16(center + a * u).bitPattern, toByteOffset: 2 * (i + k), as: UInt16.self)
                }
                i += 4
            }
        default:
            // Block by block, so the bytes do not depend on how the tensor is cut into chunks.
            for b in 0..<blocks {
                randomBytes(base + b * blockBytes, count: blockBytes)
                fixBlock(base + b * blockBytes)
            }
        }
    }

    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 23) - 1 }

    mutating func randomBytes(_ p: UnsafeMutableRawPointer, count: Int) {
        var i = 0
        while i + 8 <= count {
            p.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < count {
            var r = rng.next()
            while i < count {
                p.storeBytes(of: UInt8(truncatingIfNeeded: r), toByteOffset: i, as: UInt8.self)
                r >>= 8
                i += 1
            }
        }
    }

    func half(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// Standard deviation of q - mean(q) for q uniform on 0..<n: sqrt((n² - 1) / 12).
    static func spread(_ n: Int) -> Float { (Float(n * n - 1) / 12).squareRoot() }

    /// Turns a block of random bytes into a valid block: scales set, quants left random.
    mutating func fixBlock(_ p: UnsafeMutableRawPointer) {
        switch type {
        case .q4_0:  // d, qs[16]: w = d (q - 8)
            p.storeBytes(of: half(sigma / Self.spread(16)), as: UInt16.self)
        case .q5_0:  // d, qh[4], qs[16]: w = d (q - 16)
            p.storeBytes(of: half(sigma / Self.spread(32)), as: UInt16.self)
        case .q8_0:  // d, qs[32] int8: w = d q, q in -127...127 as ggml's quantizer writes
            p.storeBytes(of: half(sigma / Self.spread(255)), as: UInt16.self)
            for i in 2..<34 where p.load(fromByteOffset: i, as: UInt8.self) == 0x80 { p.storeBytes(of: UInt8(0x81), toByteOffset: i, as: UInt8.self) }
        case .q4_K, .q5_K:
            // d, dmin, scales[12] (six-bit sc and m for 8 sub-blocks), [qh[32],] qs[128]: w = d sc q - dmin m.
            // m = sc and dmin = d (levels - 1) / 2 centre each sub-block: w = d sc (q - (levels - 1) / 2).
            let levels = type == .q4_K ? 16 : 32
            var sc = [UInt8](repeating: 0, count: 8)
            let r = rng.next()
            var meanSquare: Float = 0
            for j in 0..<8 {
                sc[j] = 32 + UInt8(truncatingIfNeeded: r >> (8 * j)) % 32  // 32...63
                meanSquare += Float(sc[j]) * Float(sc[j]) / 8
            }
            let d = sigma / (meanSquare.squareRoot() * Self.spread(levels))
            p.storeBytes(of: half(d), as: UInt16.self)
            p.storeBytes(of: half(d * Float(levels - 1) / 2), toByteOffset: 2, as: UInt16.self)
            for j in 0..<4 {
                let hiSc = sc[j + 4], hiM = sc[j + 4]
                p.storeBytes(of: sc[j] | ((hiSc >> 4) << 6), toByteOffset: 4 + j, as: UInt8.self)
                p.storeBytes(of: sc[j] | ((hiM >> 4) << 6), toByteOffset: 4 + j + 4, as: UInt8.self)
                p.storeBytes(of: (hiSc & 0xF) | ((hiM & 0xF) << 4), toByteOffset: 4 + j + 8, as: UInt8.self)
            }
        case .q6_K:  // ql[128], qh[64], scales[16] int8, d: w = d sc (q - 32)
            let r0 = rng.next(), r1 = rng.next()
            var meanSquare: Float = 0
            for j in 0..<16 {
                let s = 16 + Int8(truncatingIfNeeded: (j < 8 ? r0 >> (8 * j) : r1 >> (8 * (j - 8))) & 0x1F) // 16...47
                p.storeBytes(of: s, toByteOffset: 192 + j, as: Int8.self)
                meanSquare += Float(s) * Float(s) / 16
            }
            p.storeBytes(of: half(sigma / (meanSquare.squareRoot() * Self.spread(64))), toByteOffset: 208, as: UInt16.self)
        default:
            break
        }
    }
}

extension Double {
    fileprivate var float: Float { Float(self) }
}
