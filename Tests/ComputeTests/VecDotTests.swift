import CKernels
import Compute
import Foundation
import GGUF
import Testing

/// Every dot-product path this CPU runs against its scalar twin and against dequantize + float dot.
struct VecDotTests {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Quantizes x with the scalar quantizer (bit-exact on all ISAs, tested in DequantizeTests).
    static func activations(_ x: [Float], for type: GGMLType) throws -> [UInt8] {
        let act = GGMLType(rawValue: UInt32(fw_vec_dot_type(Int32(type.rawValue))))!
        var out = [UInt8](repeating: 0, count: Compute.rowBytes(act, count: x.count)!)
        out.withUnsafeMutableBytes { quantize(x, to: act, into: $0.baseAddress!, isa: .scalar) }
        return out
    }

    static func dot(_ type: GGMLType, _ w: [UInt8], _ a: [UInt8], _ n: Int, _ isa: ISA) throws -> Float {
        let kernel = try #require(fw_get_vec_dot(isa.raw, Int32(type.rawValue)), "no \(type.name) kernel on \(isa)")
        var s: Float = 0
        w.withUnsafeBytes { wp in a.withUnsafeBytes { ap in kernel(Int64(n), &s, wp.baseAddress!, ap.baseAddress!) } }
        return s
    }

    static func dequantized(_ type: GGMLType, _ bytes: [UInt8], _ n: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: n)
        try bytes.withUnsafeBytes { try Compute.dequantize(type, from: $0.baseAddress!, to: &out, count: n) }
        return out
    }

    /// Tolerance: the kernels differ only in float summation order (per-block float partial sums
    /// added in another order, FMA vs separate multiply-add), so the difference is bounded by
    /// about sqrt(terms) · ε_f32 · Σ|wᵢxᵢ|; 2e-6 · sqrt(n) · Σ|wᵢxᵢ| leaves a margin of ~10 over that.
    @Test(arguments: types)
    func everyISAMatchesScalarTwin(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0xD07 &+ UInt64(type.rawValue))
        let n = 4096
        for trial in 0..<4 {
            let w = randomWeights(type, count: n, rng: &rng)
            let x = randomFloats(n, rng: &rng, range: -Float(trial + 1)...Float(trial + 1))
            let a = try Self.activations(x, for: type)
            let wf = try Self.dequantized(type, w, n)
            let act = GGMLType(rawValue: UInt32(fw_vec_dot_type(Int32(type.rawValue))))!
            let xf = try Self.dequantized(act, a, n)
            let magnitude = zip(wf, xf).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let reference = try Self.dot(type, w, a, n, .scalar)
            for isa in runnableISAs where isa != .scalar {
                let got = try Self.dot(type, w, a, n, isa)
                let tol = 2e-6 * Double(n).squareRoot() * magnitude
                #expect(abs(Double(got) - Double(reference)) <= tol, "\(type.name) \(isa): \(got) vs scalar \(reference), tol \(tol)")
            }
        }
    }

    /// With every scale 1 the result is the integer sum itself (below 2^24, so exact in f32):
    /// all ISAs must agree exactly, which pins the integer part of each kernel.
    @Test(arguments: types.filter { $0.blockLayout.weights > 1 })
    func integerPartIsExactOnEveryISA(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0x1E7 &+ UInt64(type.rawValue))
        let n = 256
        var w = randomWeights(type, count: n, rng: &rng, scale: 1...1)
        // Keep sub-block scales small so the integer sum stays below 2^24.
        let (bw, bb) = type.blockLayout
        for block in 0..<(n / bw) {
            let base = block * bb
            switch type {
            case .q4_K, .q5_K: for i in 4..<16 { w[base + i] &= 0x0F }          // 6-bit scales and mins -> 0..15
            case .q3_K: for i in 0..<4 { w[base + 96 + 8 + i] = 0xAA }       // high scale bits 2: scales 0..15
            case .q6_K: for i in 0..<16 { w[base + 192 + i] = UInt8(bitPattern: Int8.random(in: -4...4, using: &rng)) }
            default: break
            }
        }
        // Activation blocks with d = 1 and quants in [-127, 127] (quantizers never emit -128).
        let act = GGMLType(rawValue: UInt32(fw_vec_dot_type(Int32(type.rawValue))))!
        let q = (0..<n).map { _ in Int8.random(in: -127...127, using: &rng) }
        var a: [UInt8] = []
        switch act {
        case .q8_0:
            for b in 0..<(n / 32) { a += [0x00, 0x3C] + q[(b * 32)..<(b * 32 + 32)].map { UInt8(bitPattern: $0) } }
        case .q8_1:
            for b in 0..<(n / 32) {
                let s = fw_fp32_to_fp16(Float(q[(b * 32)..<(b * 32 + 32)].reduce(0) { $0 + Int($1) }))
                a += [0x00, 0x3C, UInt8(s & 0xFF), UInt8(s >> 8)] + q[(b * 32)..<(b * 32 + 32)].map { UInt8(bitPattern: $0) }
            }
        default:  // q8_K
            a += withUnsafeBytes(of: Float(1).bitPattern.littleEndian) { Array($0) }
            a += q.map { UInt8(bitPattern: $0) }
            for g in 0..<16 {
                let s = Int16(q[(g * 16)..<(g * 16 + 16)].reduce(0) { $0 + Int($1) })
                a += withUnsafeBytes(of: s.littleEndian) { Array($0) }
            }
        }
        let reference = try Self.dot(type, w, a, n, .scalar)
        #expect(reference == reference.rounded(), "\(type.name): scalar result \(reference) is not an integer")
        for isa in runnableISAs where isa != .scalar {
            #expect(try Self.dot(type, w, a, n, isa) == reference, "\(type.name) on \(isa)")
        }
    }

    /// Against Σ dequant(w)ᵢ · dequant(x)ᵢ in double. Tolerance 1e-5 · Σ|wᵢxᵢ| covers the f32
    /// rounding of the scale products; Q4_1/Q5_1 use 1e-3 because the Q8_1 block sum s is stored
    /// as fp16 (relative error 2^-11), as in ggml.
    @Test(arguments: types)
    func matchesDequantizedFloatDot(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0xF10A7 &+ UInt64(type.rawValue))
        let n = 1024
        let w = randomWeights(type, count: n, rng: &rng)
        let x = randomFloats(n, rng: &rng)
        let a = try Self.activations(x, for: type)
        let act = GGMLType(rawValue: UInt32(fw_vec_dot_type(Int32(type.rawValue))))!
        let wf = try Self.dequantized(type, w, n), xf = try Self.dequantized(act, a, n)
        let exact = zip(wf, xf).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let magnitude = zip(wf, xf).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        let rel = (type == .q4_1 || type == .q5_1) ? 1e-3 : 1e-5
        for isa in runnableISAs {
            let got = try Self.dot(type, w, a, n, isa)
            #expect(abs(Double(got) - exact) <= rel * magnitude, "\(type.name) \(isa): \(got) vs \(exact)")
        }
    }

    /// Activations quantized as llama.cpp's x86 CPU backend does (fw_quantize_row_llamacpp, Q8_0
    /// and Q8_1 with AVX2): per 32 values id = 127 / amax, q = x * id rounded half to even, d = amax
    /// / 127 and s = d * sum(q) as f16; here recomputed in Swift, with exact ties.
    @Test(.enabled(if: ISA.avx2.isSupported, "this CPU has no AVX2"), arguments: [GGMLType.q8_0, .q8_1])
    func llamaCppActivationQuantization(type: GGMLType) throws {
        var rng = SeededRandom(seed: 0x51 &+ UInt64(type.rawValue))
        let n = 256
        var x = randomFloats(n, rng: &rng)
        for j in stride(from: 0, to: n, by: 32) {
            x[j] = 127  // amax of the block: id = 1, so k + 0.5 is an exact tie (half to even, not away)
            for k in 1..<6 { x[j + k] = Float(k) + 0.5 }
            for k in 6..<11 { x[j + k] = -(Float(k) + 0.5) }
        }
        x[64..<96].withUnsafeMutableBufferPointer { $0.update(repeating: 0) }  // amax 0: id 0
        let blockBytes = type == .q8_0 ? 34 : 36
        var out = [UInt8](repeating: 0, count: n / 32 * blockBytes)
        let rc = x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBytes { fw_quantize_row_llamacpp(ISA.avx2.raw, Int32(type.rawValue), xp.baseAddress!, $0.baseAddress!, Int64(n)) }
        }
        #expect(rc == FW_OK)
        for b in 0..<(n / 32) {
            let block = Array(x[(b * 32)..<(b * 32 + 32)])
            let amax = block.map { abs($0) }.max()!
            let d = amax / 127, id: Float = amax != 0 ? 127 / amax : 0
            let q = block.map { Int(($0 * id).rounded(.toNearestOrEven)) }
            let base = b * blockBytes, qs = base + (type == .q8_0 ? 2 : 4)
            func half(_ o: Int) -> UInt16 { UInt16(out[o]) | UInt16(out[o + 1]) << 8 }
            #expect(half(base) == fw_fp32_to_fp16(d), "block \(b) d")
            if type == .q8_1 { #expect(half(base + 2) == fw_fp32_to_fp16(d * Float(q.reduce(0, +))), "block \(b) s") }
            for j in 0..<32 { #expect(Int(Int8(bitPattern: out[qs + j])) == q[j], "block \(b) q[\(j)]") }
        }
    }

    @Test func activationTypesFollowGGML() {
        #expect(fw_vec_dot_type(Int32(GGMLType.q4_0.rawValue)) == Int32(GGMLType.q8_0.rawValue))
        #expect(fw_vec_dot_type(Int32(GGMLType.q5_1.rawValue)) == Int32(GGMLType.q8_1.rawValue))
        #expect(fw_vec_dot_type(Int32(GGMLType.q6_K.rawValue)) == Int32(GGMLType.q8_K.rawValue))
        #expect(fw_vec_dot_type(Int32(GGMLType.bf16.rawValue)) == Int32(GGMLType.f32.rawValue))
        #expect(fw_vec_dot_type(Int32(GGMLType.iq4_xs.rawValue)) == -1)
    }
}
