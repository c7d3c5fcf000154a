import CKernels
import Compute
import Foundation
import Testing

/// Float ops on every runnable ISA against straightforward Swift references (computed in Double).
struct OpsTests {
    static func close(_ a: [Float], _ b: [Double], rel: Double, abs absTol: Double = 1e-7) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) <= absTol + rel * abs($1) }
    }

    @Test func rmsNorm() {
        var rng = SeededRandom(seed: 1)
        for n in [1, 7, 640, 1000] {
            let x = randomFloats(n, rng: &rng, range: -3...3), w = randomFloats(n, rng: &rng)
            var y = [Float](repeating: 0, count: n)
            Compute.rmsNorm(x, weight: w, into: &y, width: n, eps: 1e-6)
            let ms = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)
            let ref = (0..<n).map { Double(x[$0]) * Double(w[$0]) / (ms + 1e-6).squareRoot() }
            #expect(Self.close(y, ref, rel: 1e-5), "n \(n)")
        }
    }

    /// The reference computes θᵢ = p/factor · base^(−2i/d) in Double; the kernels compute it by
    /// repeated f32 multiplication as ggml does, so θ may differ by ~i·ε·θ: tolerance 1e-3 absolute
    /// at position 100 (θ ≤ 100 rad), far below one step of a wrong pairing or frequency.
    @Test func ropeBothLayouts() {
        var rng = SeededRandom(seed: 2)
        let heads = 3, d = 64
        for neox in [false, true] {
            for (position, base, factor) in [(0, Float(10000), Float(1)), (7, 10000, 1), (100, 1_000_000, 8)] {
                let x = randomFloats(heads * d, rng: &rng)
                var y = x
                Rope(headDim: d, base: base, scalingFactor: factor, layout: neox ? .neox : .normal)
                    .rotate(&y, heads: heads, position: position)
                var ref = [Double](repeating: 0, count: heads * d)
                for h in 0..<heads {
                    for i in 0..<(d / 2) {
                        let theta = Double(position) / Double(factor) * pow(Double(base), -2.0 * Double(i) / Double(d))
                        let (a, b) = neox ? (h * d + i, h * d + i + d / 2) : (h * d + 2 * i, h * d + 2 * i + 1)
                        ref[a] = Double(x[a]) * cos(theta) - Double(x[b]) * sin(theta)
                        ref[b] = Double(x[a]) * sin(theta) + Double(x[b]) * cos(theta)
                    }
                }
                #expect(Self.close(y, ref, rel: 0, abs: 1e-3), "neox \(neox) position \(position)")
                if position == 0 { #expect(y == x) }
            }
        }
    }

    @Test(arguments: runnableISAs)
    func softmax(isa: ISA) {
        var rng = SeededRandom(seed: 3)
        for n in [1, 5, 8, 100, 1027] {
            let x = randomFloats(n, rng: &rng, range: -30...30)
            var y = x
            Compute.softmax(&y, count: n, isa: isa)
            let m = Double(x.max()!)
            let e = x.map { exp(Double($0) - m) }
            let s = e.reduce(0, +)
            #expect(Self.close(y, e.map { $0 / s }, rel: 1e-5, abs: 1e-9), "n \(n)")
        }
    }

    /// Masked scores (-inf) get exactly zero weight; the rest still sums to 1.
    @Test(arguments: runnableISAs)
    func softmaxMasksNegativeInfinity(isa: ISA) {
        var x: [Float] = (0..<37).map { Float($0 % 5) - 2 }
        for i in stride(from: 1, to: 37, by: 3) { x[i] = -.infinity }
        Compute.softmax(&x, count: x.count, isa: isa)
        for i in stride(from: 1, to: 37, by: 3) { #expect(x[i] == 0) }
        #expect(abs(x.reduce(0, +) - 1) < 1e-5)
    }

    @Test(arguments: runnableISAs)
    func addIsExact(isa: ISA) {
        var rng = SeededRandom(seed: 5)
        let a = randomFloats(77, rng: &rng), b = randomFloats(77, rng: &rng)
        var y = [Float](repeating: 0, count: 77)
        Compute.add(a, b, into: &y, count: 77, isa: isa)
        #expect(y == zip(a, b).map { $0 + $1 })
    }
}

extension OpsTests {
    @Test(arguments: runnableISAs)
    func axpyAndScale(isa: ISA) {
        var rng = SeededRandom(seed: 6)
        let n = 203
        let x = randomFloats(n, rng: &rng), y0 = randomFloats(n, rng: &rng)
        let a: Float = 0.37
        var y = y0
        Compute.axpy(a, x, into: &y, count: n, isa: isa)
        // FMA (AVX2) vs multiply-then-add (scalar) differ by at most one rounding: 1 ulp-ish.
        #expect(Self.close(y, (0..<n).map { Double(y0[$0]) + Double(a) * Double(x[$0]) }, rel: 1e-6, abs: 1e-7))
        y = x
        Compute.scale(&y, by: a, count: n, isa: isa)
        #expect(y == x.map { $0 * a })
    }

    /// The F16C conversion and the scalar one agree bit for bit, specials and ties included.
    @Test(arguments: runnableISAs)
    func f16RowConversionIsExact(isa: ISA) {
        var rng = SeededRandom(seed: 7)
        var x: [Float] = (0..<4000).map { _ in
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng) & 0xC7FF_FFFF | 0x3000_0000)
            return f.isNaN ? 0 : f
        }
        x += [0, -0.0, 65504, 65519.99, 65520, -65520, 0x1p-24, 0x1p-25, 0x1.8p-25, 1 + 0x1p-11, 1 + 0x1.8p-10, .infinity, -.infinity, Float(bitPattern: 0x0001_0000)]  // last: an f32 subnormal
        var y = [UInt16](repeating: 0, count: x.count)
        Compute.toF16(x, into: &y, count: x.count, isa: isa)
        #expect(y == x.map { fw_fp32_to_fp16($0) })
    }
}
