import CKernels
import Compute
import GGUF

/// Element type of the KV cache. F16 matches llama.cpp's default (`--cache-type-k f16`).
public enum KVCacheType: String, Sendable, CaseIterable {
    case f16, f32

    var ggml: GGMLType { self == .f16 ? .f16 : .f32 }
    public var bytes: Int { self == .f16 ? 2 : 4 }
}

/// Errors while running a model.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    /// A token would land past the end of the sequence's context.
    case contextFull(position: Int, capacity: Int)
    case badToken(Int32, vocabularySize: Int)
    case missingTensor(String)

    public var description: String {
        switch self {
        case .contextFull(let p, let c): "position \(p) is past the end of the context (\(c) tokens); use a larger --ctx"
        case .badToken(let t, let n): "token id \(t) is outside the vocabulary (\(n) tokens)"
        case .missingTensor(let name): "model file lacks the tensor '\(name)'"
        }
    }
}

/// A decoder-only transformer over a memory-mapped GGUF file.
///
/// A model holds only weights; everything that changes while a sequence runs (its KV cache and
/// scratch buffers) lives in a `SequenceState`, so one model serves several sequences.
public protocol LanguageModel: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// The state of one sequence with room for `contextLength` tokens.
    func makeState(contextLength: Int, cacheType: KVCacheType) -> SequenceState
    /// Appends `tokens` to the sequence (at positions state.count...), running them through the
    /// network in chunks of `state.chunkSize`. `body(i, logits)` is called with the vocabulary
    /// logits after token i: for every token when `allLogits`, else only for the last one.
    /// The logits buffer is reused; copy what you keep.
    func evaluate(_ tokens: [Int32], state: SequenceState, allLogits: Bool,
                  _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws
    /// Scratch for decoding up to `rows` sequences together, each of at most `contextLength` tokens.
    func makeWorkspace(rows: Int, contextLength: Int) -> Workspace
    /// Appends `tokens[i]` to `states[i]` for every i in one forward pass (see BatchedDecode.swift).
    /// `body(i, logits)` is called with sequence i's next-token logits.
    func decode(_ tokens: [Int32], states: [SequenceState], workspace: Workspace,
                _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws
}

/// The registry: one model type per `general.architecture`.
public enum ModelRegistry {
    /// Loads the architecture the file names.
    public static func load(path: String, threads: Int = ThreadPool.physicalCores) throws -> any LanguageModel {
        try load(file: GGUFFile(path: path), pool: try ThreadPool(threads: threads))
    }

    public static func load(file: GGUFFile, pool: ThreadPool) throws -> any LanguageModel {
        let config = try ModelConfig(gguf: file)
        switch config.architecture {
        case "llama", "mistral3": return try Llama(file: file, config: config, pool: pool)
        case "gemma3": return try Gemma3(file: file, config: config, pool: pool)
        default: throw ModelError.unsupportedArchitecture(config.architecture)
        }
    }
}

/// The KV cache and scratch memory of one sequence. Allocated once; nothing is allocated per token.
public final class SequenceState: @unchecked Sendable {
    /// Tokens in the cache (the next token's position).
    public private(set) var count = 0
    /// Most tokens this sequence can hold.
    public let capacity: Int
    /// Tokens per forward chunk (llama.cpp's ubatch).
    public let chunkSize: Int
    public let cacheType: KVCacheType
    /// Cache length from which a lone decode row's attention runs in three pool phases (below it
    /// the extra pool synchronisations cost more than the balance gains). Both paths give the
    /// same bits; tests move it to compare them.
    public var phasedAttentionMinKeys = 256
    let layers: [LayerCache]
    let vocabSize: Int
    /// Scratch of one chunk (chunkSize rows).
    let scratch: Workspace
    private var owned: [UnsafeMutableRawPointer] = []

    struct LayerCache {
        let k: UnsafeMutableRawPointer
        let v: UnsafeMutableRawPointer
        /// Rows held; for a sliding-window layer, window + chunk (a ring), else the capacity.
        let slots: Int
        let window: Int?
    }

    init(config c: ModelConfig, capacity: Int, cacheType: KVCacheType, threads: Int, chunkSize: Int = 64) {
        self.capacity = capacity
        self.chunkSize = max(1, min(chunkSize, capacity))
        self.cacheType = cacheType
        vocabSize = c.vocabSize
        let n = self.chunkSize
        scratch = Workspace(config: c, rows: n, contextLength: capacity, threads: threads)
        var owned: [UnsafeMutableRawPointer] = []
        var layers: [LayerCache] = []
        for sliding in c.slidingLayers {
            let window = sliding ? c.slidingWindow : nil
            var slots = capacity
            if let window { slots = min(capacity, window + n) }
            let kBytes = slots * c.kvHeads * c.headDim * cacheType.bytes
            let vBytes = slots * c.kvHeads * c.valueHeadDim * cacheType.bytes
            let kp = UnsafeMutableRawPointer.allocate(byteCount: max(kBytes, 1), alignment: 64)
            let vp = UnsafeMutableRawPointer.allocate(byteCount: max(vBytes, 1), alignment: 64)
            owned += [kp, vp]
            layers.append(LayerCache(k: kp, v: vp, slots: slots, window: window))
        }
        self.layers = layers
        self.owned = owned
    }

    deinit { for p in owned { p.deallocate() } }

    /// Forgets every token (the memory is kept).
    public func reset() { count = 0 }

    /// Drops the tokens from `position` on, e.g. to reuse a shared prompt prefix. Sliding-window
    /// layers may have overwritten older rows, so only a cut within the last chunk is safe there.
    public func truncate(to position: Int) {
        precondition(position >= 0 && position <= count)
        count = position
    }

    func advance(by n: Int) { count += n }
}

/// The steps every architecture shares: KV-cache writes, attention, norms, logits.
/// Each architecture file composes these in its own order.
struct Kernels {
    let config: ModelConfig
    let pool: ThreadPool
    let isa = ISA.preferred

    /// Writes the K and V rows of a segment's tokens (workspace rows seg.row...) into its
    /// sequence's layer-`l` cache at positions seg.start...
    func storeKV(layer l: Int, segment seg: Segment, workspace w: Workspace) {
        let s = seg.state, lc = s.layers[l]
        let kw = config.kvHeads * config.headDim, vw = config.kvHeads * config.valueHeadDim
        for t in 0..<seg.count {
            let slot = (seg.start + t) % lc.slots, row = seg.row + t
            switch s.cacheType {
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
    func decodeAttention(layer l: Int, segment seg: Segment, workspace w: Workspace, scale: Float) -> Bool {
        let lc = seg.state.layers[l]
        let pos = seg.start
        let first = lc.window.map { max(0, pos - $0 + 1) } ?? 0
        let count = pos - first + 1
        let hd = config.headDim, vd = config.valueHeadDim, heads = config.heads, kvHeads = config.kvHeads
        // The C kernels need AVX2 (and a head of at most 1024 dims); elsewhere the per-head path runs.
        guard seg.count == 1, count >= seg.state.phasedAttentionMinKeys, seg.state.cacheType == .f16,
              isa == .avx2 || isa == .avx512, ISA.avx2.isSupported, hd <= 1024, vd % 8 == 0, heads % kvHeads == 0
        else { return false }
        let group = heads / kvHeads, kw = kvHeads * hd, vw = kvHeads * vd, ctx = w.contextLength
        let k16 = lc.k.assumingMemoryBound(to: UInt16.self), v16 = lc.v.assumingMemoryBound(to: UInt16.self)
        let scores = w.scores, threads = w.threads
        let keyBlocks = (count + Self.keysPerItem - 1) / Self.keysPerItem
        pool.run { worker in
            for item in Swift.stride(from: worker, to: kvHeads * keyBlocks, by: threads) {
                let g = item / keyBlocks, j0 = item % keyBlocks * Self.keysPerItem
                let rc = fw_attention_decode_scores(w.q + g * group * hd, Int64(group), Int64(hd), k16 + g * hd, Int64(kw),
                                                    Int64(lc.slots), Int64(first), Int64(j0),
                                                    Int64(min(count, j0 + Self.keysPerItem)), scale,
                                                    scores + g * group * ctx, Int64(ctx))
                precondition(rc == Int32(FW_OK), "fw_attention_decode_scores refused what the guard admitted")
            }
        }
        pool.run { worker in
            for h in Swift.stride(from: worker, to: heads, by: threads) {
                fw_attention_decode_softmax(scores + h * ctx, Int64(count), Int64(first))
            }
        }
        let dimBlocks = (vd + 31) / 32
        pool.run { worker in
            for item in Swift.stride(from: worker, to: kvHeads * dimBlocks, by: threads) {
                let g = item / dimBlocks, d0 = item % dimBlocks * 32
                let rc = fw_attention_decode_values(scores + g * group * ctx, Int64(group), Int64(ctx), v16 + g * vd, Int64(vw),
                                                    Int64(lc.slots), Int64(first), Int64(count), Int64(d0),
                                                    Int64(min(vd, d0 + 32)), w.attn + g * group * vd, Int64(vd))
                precondition(rc == Int32(FW_OK), "fw_attention_decode_values refused what the guard admitted")
            }
        }
        return true
    }

    /// Keys per scoring item of the phased decode attention.
    static var keysPerItem: Int { 256 }

    /// Causal attention of every workspace row's query (in w.q) over its own sequence's layer-`l`
    /// cache, into w.attn. Scores are q·k × scale; a sliding-window layer sees the last `window`
    /// positions (llama.cpp: masked when query − key ≥ n_swa). With an F16 cache the query and the
    /// probabilities are rounded to f16 first, as ggml's mul_mat does with an F16 operand.
    func attention(layer l: Int, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace, scale: Float) {
        let hd = config.headDim, vd = config.valueHeadDim
        let heads = config.heads, group = config.heads / config.kvHeads
        let kw = config.kvHeads * hd, vw = config.kvHeads * vd
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
                if grouped && seg.count > 1 && seg.state.cacheType == .f16 {
                    let lc = seg.state.layers[l]
                    let pos = seg.start + row - seg.row
                    let first = lc.window.map { max(0, pos - $0 + 1) } ?? 0
                    let rc = fw_attention_f16_rows(w.q + row * heads * hd + h0 * hd, Int64(group), Int64(hd), Int64(vd),
                                                   (lc.k + g * hd * 2).assumingMemoryBound(to: UInt16.self),
                                                   (lc.v + g * vd * 2).assumingMemoryBound(to: UInt16.self),
                                                   Int64(kw), Int64(vw), Int64(lc.slots), Int64(first), Int64(pos - first + 1),
                                                   scale, scores, qh, w.attn + row * heads * vd + h0 * vd)
                    if rc == Int32(FW_OK) { continue }
                }
                for h in h0..<(h0 + perItem) {
                    let lc = seg.state.layers[l]
                    let pos = seg.start + row - seg.row
                    // llama.cpp sums one query row with ggml_vec_dot_f16 and several with tinyBLAS.
                    let single = seg.count == 1
                    let laneCount = single ? 32 : 8
                    let first = lc.window.map { max(0, pos - $0 + 1) } ?? 0
                    let src = w.q + row * heads * hd + h * hd
                    let count = pos - first + 1
                    let out = w.attn + row * heads * vd + h * vd
                    if seg.state.cacheType == .f16 {
                        // llama.cpp order (see attention.c): f16 query, lane sums by index mod 8.
                        let qh16 = UnsafeMutableRawPointer(qh).assumingMemoryBound(to: UInt16.self)
                        if single && fw_attention_f16_single(isa.raw, src, Int64(hd), Int64(vd),
                                                             (lc.k + g * hd * 2).assumingMemoryBound(to: UInt16.self),
                                                             (lc.v + g * vd * 2).assumingMemoryBound(to: UInt16.self),
                                                             Int64(kw), Int64(vw), Int64(lc.slots), Int64(first), Int64(count),
                                                             scale, scores, qh16, w.lanes + worker * 32 * vd, out) == Int32(FW_OK) {
                            continue
                        }
                        Compute.toF16(src, into: qh16, count: hd, isa: isa)
                        for j in 0..<count {
                            let slot = (first + j) % lc.slots
                            let krow = (lc.k + (slot * kw + g * hd) * 2).assumingMemoryBound(to: UInt16.self)
                            scores[j] = (single ? fw_dot_f16_ggml(krow, qh16, Int64(hd)) : fw_dot_f16_lanes(krow, qh16, Int64(hd))) * scale
                        }
                        fw_softmax_llamacpp(isa.raw, scores, Int64(count), Int64(first))
                        let acc = w.lanes + worker * 32 * vd
                        acc.update(repeating: 0, count: laneCount * vd)
                        for j in 0..<count {
                            let p = first + j, slot = p % lc.slots
                            let prob = fw_fp16_to_fp32(fw_fp32_to_fp16(scores[j]))
                            fw_lane_fma_f16(acc + (p % laneCount) * vd, (lc.v + (slot * vw + g * vd) * 2).assumingMemoryBound(to: UInt16.self),
                                            prob, Int64(vd))
                        }
                        if single { fw_lane_hsum32(acc, Int64(vd), out, Int64(vd)) } else { fw_lane_hsum(acc, Int64(vd), out, Int64(vd)) }
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

    /// RMSNorm of `rows` rows of `width` values.
    func rmsNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let eps = Float(config.normEpsilon)
        if rows < 8 {
            for r in 0..<rows { fw_rms_norm_llamacpp(x + r * width, w, y + r * width, Int64(width), eps) }
            return
        }
        pool.parallelFor(rows) { range in
            for r in range { fw_rms_norm_llamacpp(x + r * width, w, y + r * width, Int64(width), eps) }
        }
    }

    /// Runs `body(row, position)` for every row of the segments, rows split over the pool from 8 rows.
    func forEachRow(_ segments: some Collection<Segment>, _ body: (_ row: Int, _ position: Int) -> Void) {
        let n = segments.reduce(0) { $0 + $1.count }
        if n < 8 {
            for seg in segments { for t in 0..<seg.count { body(seg.row + t, seg.start + t) } }
            return
        }
        var rows: [(row: Int, position: Int)] = []
        rows.reserveCapacity(n)
        for seg in segments { for t in 0..<seg.count { rows.append((seg.row + t, seg.start + t)) } }
        rows.withUnsafeBufferPointer { rows in
            pool.parallelFor(n) { range in for i in range { body(rows[i].row, rows[i].position) } }
        }
    }

    /// Checks the tokens and the room left before a forward pass.
    func check(_ tokens: some Collection<Int32>, state s: SequenceState) throws(InferenceError) {
        if s.count + tokens.count > s.capacity {
            throw .contextFull(position: s.count + tokens.count - 1, capacity: s.capacity)
        }
        for t in tokens where t < 0 || Int(t) >= config.vocabSize { throw .badToken(t, vocabularySize: config.vocabSize) }
    }
}

/// Weights of one model: matrices stay mapped in their GGUF type; small vectors (norms, biases)
/// are copied to f32 once.
final class WeightStore: @unchecked Sendable {
    let file: GGUFFile
    private var owned: [UnsafeMutablePointer<Float>] = []

    init(file: GGUFFile) { self.file = file }
    deinit { for p in owned { p.deallocate() } }

    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    func matrix(_ name: String) throws -> QuantizedMatrix {
        guard has(name) else { throw InferenceError.missingTensor(name) }
        return try QuantizedMatrix(file: file, tensor: name)
    }

    func vector(_ name: String) throws -> UnsafePointer<Float> {
        guard let info = file.tensor(named: name) else { throw InferenceError.missingTensor(name) }
        let n = info.elementCount
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        owned.append(p)
        let bytes = file.data(of: info)
        try Compute.dequantize(info.type, from: bytes.baseAddress!, to: p, count: n)
        return UnsafePointer(p)
    }

    func optionalVector(_ name: String) throws -> UnsafePointer<Float>? {
        has(name) ? try vector(name) : nil
    }
}
