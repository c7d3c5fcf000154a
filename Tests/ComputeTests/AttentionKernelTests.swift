import CKernels
import Compute
import Foundation
import Testing

/// The grouped prompt-attention kernel against the per-head lane kernels it replaces: the same
/// bits for every head, over a ring of slots that wraps, with start positions and counts that are
/// not multiples of the 8 lanes; and every AVX2 attention kernel against its scalar twin.
struct AttentionKernelTests {
    /// Per head, as Attention does it with the per-head kernels (its softmax is llama.cpp's AVX2 one on every ISA).
    static func reference(isa: ISA, q: [Float], heads: Int, hd: Int, vd: Int, k: [UInt16], v: [UInt16], slots: Int,
                          first: Int, count: Int, scale: Float) -> [Float] {
        var out = [Float](repeating: 0, count: heads * vd)
        for h in 0..<heads {
            let q16 = (0..<hd).map { fw_fp32_to_fp16(q[h * hd + $0]) }
            var scores = (0..<count).map { j -> Float in
                let slot = (first + j) % slots
                return k.withUnsafeBufferPointer { fw_dot_f16_lanes(isa.raw, $0.baseAddress! + slot * hd, q16, Int64(hd)) } * scale
            }
            fw_softmax_llamacpp(FW_ISA_AVX2, &scores, Int64(count), Int64(first))
            var lanes = [Float](repeating: 0, count: 8 * vd)
            for j in 0..<count {
                let p = first + j, slot = p % slots
                let prob = fw_fp16_to_fp32(fw_fp32_to_fp16(scores[j]))
                lanes.withUnsafeMutableBufferPointer { l in
                    v.withUnsafeBufferPointer { fw_lane_fma_f16(isa.raw, l.baseAddress! + (p % 8) * vd, $0.baseAddress! + slot * vd, prob, Int64(vd)) }
                }
            }
            out.withUnsafeMutableBufferPointer { fw_lane_hsum(isa.raw, lanes, Int64(vd), $0.baseAddress! + h * vd, Int64(vd)) }
        }
        return out
    }

    /// heads: 1, 3 (SmolLM2), 4 (Gemma 3 270M: head 256) and 9 (more than the kernel's 8 at once).
    @Test(.enabled(if: ISA.avx2.isSupported), arguments: [1, 3, 4, 9], runnableISAs)
    func groupedEqualsPerHead(heads: Int, isa: ISA) {
        let (hd, vd) = [1: (64, 64), 3: (64, 64), 4: (256, 256), 9: (128, 64)][heads]!
        var rng = SeededRandom(seed: UInt64(heads * 1000 + hd))
        let slots = 45
        let k = randomFloats(slots * hd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        let v = randomFloats(slots * vd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        for (first, count) in [(0, 1), (0, 8), (3, 21), (30, 40), (17, 45)] {
            let q = randomFloats(heads * hd, rng: &rng, range: -3...3)
            let scale = 1 / Float(hd).squareRoot()
            var scores = [Float](repeating: 0, count: heads * count), qf = [Float](repeating: 0, count: heads * hd)
            var out = [Float](repeating: .nan, count: heads * vd)
            let rc = fw_attention_f16_rows(isa.raw, q, Int64(heads), Int64(hd), Int64(vd), k, v, Int64(hd), Int64(vd),
                                           Int64(slots), Int64(first), Int64(count), scale, &scores, &qf, &out)
            #expect(rc == Int32(FW_OK))
            let ref = Self.reference(isa: isa, q: q, heads: heads, hd: hd, vd: vd, k: k, v: v, slots: slots, first: first, count: count, scale: scale)
            #expect(out.map(\.bitPattern) == ref.map(\.bitPattern), "heads \(heads) hd \(hd) first \(first) count \(count)")
        }
    }

    /// The decode-row kernel against the per-head single-row kernels (ggml_vec_dot_f16 order, 32 lanes).
    @Test(arguments: [64, 256, 80], runnableISAs)
    func singleRowEqualsPerKeyCalls(hd: Int, isa: ISA) {
        var rng = SeededRandom(seed: UInt64(hd))
        let slots = 70, vd = hd
        let k = randomFloats(slots * hd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        let v = randomFloats(slots * vd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        for (first, count) in [(0, 1), (0, 33), (5, 64), (50, 70)] {
            let q = randomFloats(hd, rng: &rng, range: -3...3)
            let scale = 1 / Float(hd).squareRoot()
            let q16 = q.map { fw_fp32_to_fp16($0) }
            var scores = (0..<count).map { j -> Float in
                k.withUnsafeBufferPointer { fw_dot_f16_ggml(isa.raw, $0.baseAddress! + ((first + j) % slots) * hd, q16, Int64(hd)) } * scale
            }
            fw_softmax_llamacpp(isa.raw, &scores, Int64(count), Int64(first))
            var lanes = [Float](repeating: 0, count: 32 * vd)
            for j in 0..<count {
                let p = first + j
                let prob = fw_fp16_to_fp32(fw_fp32_to_fp16(scores[j]))
                lanes.withUnsafeMutableBufferPointer { l in
                    v.withUnsafeBufferPointer { fw_lane_fma_f16(isa.raw, l.baseAddress! + (p % 32) * vd, $0.baseAddress! + (p % slots) * vd, prob, Int64(vd)) }
                }
            }
            var ref = [Float](repeating: 0, count: vd)
            fw_lane_hsum32(isa.raw, lanes, Int64(vd), &ref, Int64(vd))

            var sc = [Float](repeating: 0, count: count), qs = [UInt16](repeating: 0, count: hd)
            var ln = [Float](repeating: .nan, count: 32 * vd), out = [Float](repeating: .nan, count: vd)
            let rc = fw_attention_f16_single(isa.raw, q, Int64(hd), Int64(vd), k, v, Int64(hd), Int64(vd), Int64(slots),
                                             Int64(first), Int64(count), scale, &sc, &qs, &ln, &out)
            #expect(rc == Int32(FW_OK))
            #expect(out.map(\.bitPattern) == ref.map(\.bitPattern), "hd \(hd) first \(first) count \(count)")
        }
    }

    /// The three-phase decode kernels (scores of a KV group's heads by key ranges, softmax by head,
    /// values by dim ranges) against the single-row kernel per head, with ranges cut at odd places.
    /// Heads 1, 3 (SmolLM2), 4 (Gemma 3 270M), 5 (more than the 3 and 4 done at once); head dims
    /// 64, 256 and 80 (not a multiple of 32: the scalar tail of ggml's dot). On every ISA: the
    /// scalar twins against the scalar single-row kernel.
    @Test(arguments: [(1, 64), (3, 64), (4, 256), (5, 80)], runnableISAs)
    func phasedDecodeEqualsSingleRow(shape: (Int, Int), isa: ISA) {
        let (heads, hd) = shape
        var rng = SeededRandom(seed: UInt64(heads * 7919 + hd))
        let slots = 300, vd = hd, stride = 310
        let k = randomFloats(slots * hd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        let v = randomFloats(slots * vd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        for (first, count) in [(0, 1), (0, 37), (5, 260), (250, 300), (299, 300)] {
            let q = randomFloats(heads * hd, rng: &rng, range: -3...3)
            let scale = 1 / Float(hd).squareRoot()
            var ref = [Float](repeating: .nan, count: heads * vd)
            for h in 0..<heads {
                var sc = [Float](repeating: 0, count: count), qs = [UInt16](repeating: 0, count: hd)
                var ln = [Float](repeating: .nan, count: 32 * vd), out = [Float](repeating: .nan, count: vd)
                let rc = fw_attention_f16_single(isa.raw, Array(q[h * hd..<(h + 1) * hd]), Int64(hd), Int64(vd), k, v,
                                                 Int64(hd), Int64(vd), Int64(slots), Int64(first), Int64(count), scale,
                                                 &sc, &qs, &ln, &out)
                #expect(rc == Int32(FW_OK))
                ref.replaceSubrange(h * vd..<(h + 1) * vd, with: out)
            }
            var scores = [Float](repeating: .nan, count: heads * stride)
            var j0 = 0
            while j0 < count {  // key ranges of 1, 2, 4, ... keys
                let j1 = min(count, j0 + max(1, j0))
                #expect(fw_attention_decode_scores(isa.raw, q, Int64(heads), Int64(hd), k, Int64(hd), Int64(slots), Int64(first),
                                                   Int64(j0), Int64(j1), scale, &scores, Int64(stride)) == Int32(FW_OK))
                j0 = j1
            }
            scores.withUnsafeMutableBufferPointer { s in
                for h in 0..<heads { fw_attention_decode_softmax(isa.raw, s.baseAddress! + h * stride, Int64(count), Int64(first)) }
            }
            var out = [Float](repeating: .nan, count: heads * vd)
            for d0 in Swift.stride(from: 0, to: vd, by: 40) {  // dim ranges of 40: not whole blocks of 16 or 32
                #expect(fw_attention_decode_values(isa.raw, scores, Int64(heads), Int64(stride), v, Int64(vd), Int64(slots), Int64(first),
                                                   Int64(count), Int64(d0), Int64(min(vd, d0 + 40)), &out, Int64(vd)) == Int32(FW_OK))
            }
            #expect(out.map(\.bitPattern) == ref.map(\.bitPattern), "heads \(heads) hd \(hd) first \(first) count \(count)")
        }
    }

    @Test func refusesWidthsItCannotDo() {
        var scores = [Float](repeating: 0, count: 64), qf = scores, out = scores
        let k = [UInt16](repeating: 0, count: 12), q = [Float](repeating: 0, count: 12)
        let rc = fw_attention_f16_rows(ISA.preferred.raw, q, 1, 12, 12, k, k, 12, 12, 1, 0, 1, 1, &scores, &qf, &out)
        #expect(rc != Int32(FW_OK))
    }

    /// The prompt kernel's scalar twin gives the AVX2 kernel's bits on random input: heads of a
    /// group 1 to 9, head widths 8 to 256, rings that wrap, scores large enough for ggml's expf
    /// to take its overflow branches, and masked-out window starts.
    @Test(.enabled(if: ISA.avx2.isSupported), arguments: [(1, 64, 64), (3, 64, 64), (4, 256, 256), (9, 128, 64), (2, 8, 24)])
    func scalarTwinEqualsAVX2(heads: Int, hd: Int, vd: Int) {
        var rng = SeededRandom(seed: UInt64(heads * 131 + hd + vd))
        let slots = 45
        let k = randomFloats(slots * hd, rng: &rng, range: -4...4).map { fw_fp32_to_fp16($0) }
        let v = randomFloats(slots * vd, rng: &rng, range: -2...2).map { fw_fp32_to_fp16($0) }
        for (first, count) in [(0, 1), (0, 8), (3, 21), (30, 40), (17, 45)] {
            let q = randomFloats(heads * hd, rng: &rng, range: -6...6)
            func rows(_ isa: fw_isa) -> [Float] {
                var scores = [Float](repeating: 0, count: heads * count), qf = [Float](repeating: 0, count: heads * hd)
                var out = [Float](repeating: .nan, count: heads * vd)
                let rc = fw_attention_f16_rows(isa, q, Int64(heads), Int64(hd), Int64(vd), k, v, Int64(hd), Int64(vd),
                                               Int64(slots), Int64(first), Int64(count), 1, &scores, &qf, &out)
                #expect(rc == Int32(FW_OK))
                return out
            }
            #expect(rows(FW_ISA_SCALAR).map(\.bitPattern) == rows(FW_ISA_AVX2).map(\.bitPattern),
                    "heads \(heads) hd \(hd) vd \(vd) first \(first) count \(count)")
        }
    }
}
