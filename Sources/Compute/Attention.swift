import CKernels
import GGUF

/// Causal attention of a forward pass's rows over their sequences' KV caches, summed in
/// llama.cpp's order (attention_avx2.c): each row follows its own segment's cache and position.
public struct Attention: Sendable {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let valueHeadDim: Int
    let pool: ThreadPool
    let isa: ISA

    public init(shape: TransformerShape, pool: ThreadPool, isa: ISA = .preferred) {
        heads = shape.heads
        kvHeads = shape.kvHeads
        headDim = shape.headDim
        valueHeadDim = shape.valueHeadDim
        self.pool = pool
        self.isa = isa
    }

    /// Writes the K and V rows (w.k, w.v) of every segment's tokens into its cache's layer `l`
    /// at the segment's positions.
    public func storeKeysAndValues(layer l: Int, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace) {
        for seg in segments { store(layer: l, segment: seg, workspace: w) }
    }

    private func store(layer l: Int, segment seg: Segment, workspace w: Workspace) {
        let lc = seg.cache.layers[l]
        let kw = kvHeads * headDim, vw = kvHeads * valueHeadDim
        for t in 0..<seg.count {
            let slot = (seg.start + t) % lc.slots, row = seg.row + t
            switch seg.cache.type {
            case .f16:
                Compute.toF16(w.k + row * kw, into: (lc.k + slot * kw * 2).assumingMemoryBound(to: UInt16.self), count: kw, isa: isa)
                Compute.toF16(w.v + row * vw, into: (lc.v + slot * vw * 2).assumingMemoryBound(to: UInt16.self), count: vw, isa: isa)
            case .f32:
                (lc.k + slot * kw * 4).assumingMemoryBound(to: Float.self).update(from: w.k + row * kw, count: kw)
                (lc.v + slot * vw * 4).assumingMemoryBound(to: Float.self).update(from: w.v + row * vw, count: vw)
            }
        }
    }

    /// A lone decode row over a long F16 cache, in three pool phases so that both threads have
    /// equal work whatever the head count (9 heads on 2 threads would split 5:4): scores by key
    /// ranges with the query heads of a KV group together, softmax by head, values by output dims.
    /// Bit-identical to the per-head single-row kernel. False (nothing done) where it does not apply.
    private func decodeAttention(layer l: Int, segment seg: Segment, workspace w: Workspace, scale: Float) -> Bool {
        let lc = seg.cache.layers[l]
        let pos = seg.start
        let first = lc.firstVisible(from: pos)
        let count = pos - first + 1
        let hd = headDim, vd = valueHeadDim, heads = heads, kvHeads = kvHeads
        // Only the vector kernels gain from the split (and they take heads of at most 1024 dims);
        // elsewhere the per-head path runs.
        guard seg.count == 1, count >= seg.cache.phasedAttentionMinKeys, seg.cache.type == .f16,
              isa == .avx2 || isa == .avx512, ISA.avx2.isSupported, hd <= 1024, vd % 8 == 0, heads % kvHeads == 0
        else { return false }
        let group = heads / kvHeads, kw = kvHeads * hd, vw = kvHeads * vd, ctx = w.contextLength
        let k16 = lc.k.assumingMemoryBound(to: UInt16.self), v16 = lc.v.assumingMemoryBound(to: UInt16.self)
        let scores = w.scores, threads = w.threads
        let keyBlocks = (count + Self.keysPerItem - 1) / Self.keysPerItem
        pool.run { worker in
            for item in Swift.stride(from: worker, to: kvHeads * keyBlocks, by: threads) {
                let g = item / keyBlocks, j0 = item % keyBlocks * Self.keysPerItem
                let rc = fw_attention_decode_scores(isa.raw, w.q + g * group * hd, Int64(group), Int64(hd), k16 + g * hd, Int64(kw),
                                                    Int64(lc.slots), Int64(first), Int64(j0),
                                                    Int64(min(count, j0 + Self.keysPerItem)), scale,
                                                    scores + g * group * ctx, Int64(ctx))
                precondition(rc == Int32(FW_OK), "fw_attention_decode_scores refused what the guard admitted")
            }
        }
        pool.run { worker in
            for h in Swift.stride(from: worker, to: heads, by: threads) {
                fw_attention_decode_softmax(isa.raw, scores + h * ctx, Int64(count), Int64(first))
            }
        }
        let dimBlocks = (vd + 31) / 32
        pool.run { worker in
            for item in Swift.stride(from: worker, to: kvHeads * dimBlocks, by: threads) {
                let g = item / dimBlocks, d0 = item % dimBlocks * 32
                let rc = fw_attention_decode_values(isa.raw, scores + g * group * ctx, Int64(group), Int64(ctx), v16 + g * vd, Int64(vw),
                                                    Int64(lc.slots), Int64(first), Int64(count), Int64(d0),
                                                    Int64(min(vd, d0 + 32)), w.attn + g * group * vd, Int64(vd))
                precondition(rc == Int32(FW_OK), "fw_attention_decode_values refused what the guard admitted")
            }
        }
        return true
    }

    /// Keys per scoring item of the phased decode attention.
    private static var keysPerItem: Int { 256 }

    /// Causal attention of every workspace row's query (in w.q) over its own sequence's layer-`l`
    /// cache, into w.attn. Scores are q·k × scale; a sliding-window layer sees the last `window`
    /// positions (llama.cpp: masked when query − key ≥ n_swa). With an F16 cache the query and the
    /// probabilities are rounded to f16 first, as ggml's mul_mat does with an F16 operand.
    public func callAsFunction(layer l: Int, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace, scale: Float) {
        let hd = headDim, vd = valueHeadDim
        let heads = heads, group = heads / kvHeads
        let kw = kvHeads * hd, vw = kvHeads * vd
        var rows = 0
        for (i, seg) in segments.enumerated() {
            for t in 0..<seg.count { w.rowSegment[seg.row + t] = Int32(i) }
            rows = max(rows, seg.row + seg.count)
        }
        let dot32 = fw_get_vec_dot(isa.raw, Int32(GGMLType.f32.rawValue))!
        // Prompt rows: one item per (row, KV head), its query heads together (fw_attention_f16_rows);
        // decode rows only: one item per (row, query head), so every thread has work.
        if rows == 1, segments.count == 1, decodeAttention(layer: l, segment: segments[0], workspace: w, scale: scale) { return }
        let grouped = segments.contains { $0.count > 1 }
        let perItem = grouped ? group : 1
        let items = rows * heads / perItem
        let isa = self.isa
        pool.run { worker in
            guard worker < items else { return }
            let scores = w.scores + worker * w.contextLength * w.scoreHeads
            let qh = w.qHead + worker * max(hd, 16) * w.scoreHeads
            // Items dealt round-robin: a causal row's cost grows with its position, so halves in
            // order would give the second thread three times the first's work.
            for item in Swift.stride(from: worker, to: items, by: w.threads) {
                let row = item * perItem / heads, h0 = item * perItem % heads, g = h0 / group
                let seg = segments[Int(w.rowSegment[row])]
                if grouped && seg.count > 1 && seg.cache.type == .f16 {
                    let lc = seg.cache.layers[l]
                    let pos = seg.start + row - seg.row
                    let first = lc.firstVisible(from: pos)
                    let rc = fw_attention_f16_rows(isa.raw, w.q + row * heads * hd + h0 * hd, Int64(group), Int64(hd), Int64(vd),
                                                   (lc.k + g * hd * 2).assumingMemoryBound(to: UInt16.self),
                                                   (lc.v + g * vd * 2).assumingMemoryBound(to: UInt16.self),
                                                   Int64(kw), Int64(vw), Int64(lc.slots), Int64(first), Int64(pos - first + 1),
                                                   scale, scores, qh, w.attn + row * heads * vd + h0 * vd)
                    if rc == Int32(FW_OK) { continue }
                }
                for h in h0..<(h0 + perItem) {
                    let lc = seg.cache.layers[l]
                    let pos = seg.start + row - seg.row
                    let first = lc.firstVisible(from: pos)
                    let src = w.q + row * heads * hd + h * hd
                    let count = pos - first + 1
                    let out = w.attn + row * heads * vd + h * vd
                    if seg.cache.type == .f16 {
                        let qh16 = UnsafeMutableRawPointer(qh).assumingMemoryBound(to: UInt16.self)
                        // llama.cpp sums one query row with ggml_vec_dot_f16 and several with tinyBLAS.
                        if seg.count == 1 {
                            let rc = fw_attention_f16_single(isa.raw, src, Int64(hd), Int64(vd),
                                                             (lc.k + g * hd * 2).assumingMemoryBound(to: UInt16.self),
                                                             (lc.v + g * vd * 2).assumingMemoryBound(to: UInt16.self),
                                                             Int64(kw), Int64(vw), Int64(lc.slots), Int64(first), Int64(count),
                                                             scale, scores, qh16, w.lanes + worker * 32 * vd, out)
                            precondition(rc == Int32(FW_OK), "fw_attention_f16_single refused a row with keys")
                            continue
                        }
                        // Prompt rows whose heads fw_attention_f16_rows cannot take (not a multiple of 8
                        // wide): one head at a time in the same order, f16 query, lanes by index mod 8.
                        Compute.toF16(src, into: qh16, count: hd, isa: isa)
                        for j in 0..<count {
                            let slot = (first + j) % lc.slots
                            let krow = (lc.k + (slot * kw + g * hd) * 2).assumingMemoryBound(to: UInt16.self)
                            scores[j] = fw_dot_f16_lanes(isa.raw, krow, qh16, Int64(hd)) * scale
                        }
                        fw_softmax_llamacpp(isa.raw, scores, Int64(count), Int64(first))
                        let acc = w.lanes + worker * 32 * vd
                        acc.update(repeating: 0, count: 8 * vd)
                        for j in 0..<count {
                            let p = first + j, slot = p % lc.slots
                            let prob = fw_fp16_to_fp32(fw_fp32_to_fp16(scores[j]))
                            fw_lane_fma_f16(isa.raw, acc + (p % 8) * vd,
                                            (lc.v + (slot * vw + g * vd) * 2).assumingMemoryBound(to: UInt16.self), prob, Int64(vd))
                        }
                        fw_lane_hsum(isa.raw, acc, Int64(vd), out, Int64(vd))
                        continue
                    }
                    qh.update(from: src, count: hd)
                    for j in 0..<count {
                        let slot = (first + j) % lc.slots
                        var d: Float = 0
                        dot32(Int64(hd), &d, lc.k + (slot * kw + g * hd) * 4, qh)
                        scores[j] = d * scale
                    }
                    Compute.softmax(scores, count: count, isa: isa)
                    out.update(repeating: 0, count: vd)
                    for j in 0..<count {
                        let slot = (first + j) % lc.slots
                        Compute.axpy(scores[j], (lc.v + (slot * vw + g * vd) * 4).assumingMemoryBound(to: Float.self),
                                     into: out, count: vd, isa: isa)
                    }
                }
            }
        }
    }
}
