import Foundation

/// Scratch memory of a forward pass over up to `rows` token rows that attend over at most
/// `contextLength` positions. Allocated once; nothing is allocated per step.
public final class Workspace: @unchecked Sendable {
    public let rows: Int
    public let contextLength: Int
    public let threads: Int
    let embeddingWidth: Int
    /// Residual stream, its normed copy, and the sublayer output (rows × embeddingWidth).
    public let x, xn, o: UnsafeMutablePointer<Float>
    /// Query, key and value projections, and the attention output (rows × heads × dims).
    public let q, k, v, attn: UnsafeMutablePointer<Float>
    /// FFN gate and up projections (rows × ffnWidth).
    public let gate, up: UnsafeMutablePointer<Float>
    /// Vocabulary logits (rows × vocabSize).
    public let logits: UnsafeMutablePointer<Float>
    /// Segments of a batched decode step (uninitialized between steps).
    public let segments: UnsafeMutablePointer<Segment>
    /// Per worker: attention scores over the context and an f32 copy of the query, for the
    /// `scoreHeads` query heads that share a KV head (a prompt row's heads are done together);
    /// a lone decode row uses the scores of all heads at once (at least `heads` rows of context).
    let scores: UnsafeMutablePointer<Float>
    let qHead: UnsafeMutablePointer<Float>
    let scoreHeads: Int
    /// Per worker: 32 lane accumulators of one head's attention output.
    let lanes: UnsafeMutablePointer<Float>
    /// For each row, the index of its segment.
    let rowSegment: UnsafeMutablePointer<Int32>
    private var owned: [UnsafeMutableRawPointer] = []
    private var mapped: [(UnsafeMutableRawPointer, Int)] = []

    public init(shape c: TransformerShape, rows: Int, contextLength: Int, threads: Int) {
        self.rows = max(1, rows)
        self.contextLength = max(1, contextLength)
        self.threads = threads
        embeddingWidth = c.embeddingWidth
        var owned: [UnsafeMutableRawPointer] = []
        var mapped: [(UnsafeMutableRawPointer, Int)] = []
        // Zeroed memory. Large buffers (logits of every row, scores over the whole context) come
        // from anonymous mappings, zero pages the kernel supplies on first touch: the rows a pass
        // never writes (all logits rows but the last in prompt processing) cost no resident memory.
        func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
            let bytes = max(n, 1) * 4
            if bytes >= 256 << 10, let m = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
               m != MAP_FAILED {
                mapped.append((m, bytes))
                return m.assumingMemoryBound(to: Float.self)
            }
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            owned.append(p)
            return p.assumingMemoryBound(to: Float.self)
        }
        let n = self.rows
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * max(c.headDim, c.valueHeadDim)
        x = floats(n * c.embeddingWidth); xn = floats(n * c.embeddingWidth); o = floats(n * c.embeddingWidth)
        q = floats(n * qWidth); k = floats(n * kvWidth); v = floats(n * kvWidth)
        attn = floats(n * c.heads * c.valueHeadDim)
        gate = floats(n * c.ffnWidth); up = floats(n * c.ffnWidth)
        logits = floats(n * c.vocabSize)
        scoreHeads = max(1, c.heads / max(c.kvHeads, 1))
        scores = floats(max(threads * scoreHeads, c.heads) * self.contextLength)
        qHead = floats(threads * max(c.headDim, 16) * scoreHeads)
        lanes = floats(threads * 32 * c.valueHeadDim)
        rowSegment = UnsafeMutableRawPointer(floats(n)).bindMemory(to: Int32.self, capacity: n)
        segments = .allocate(capacity: n)
        self.owned = owned
        self.mapped = mapped
    }

    /// Moves row `r` of the residual stream (x) and the sublayer output (o) to row 0, for a last
    /// layer that runs on one row.
    public func keepOnlyRow(_ r: Int) {
        x.update(from: x + r * embeddingWidth, count: embeddingWidth)
        o.update(from: o + r * embeddingWidth, count: embeddingWidth)
    }

    deinit {
        for p in owned { p.deallocate() }
        for (m, bytes) in mapped { munmap(m, bytes) }
        segments.deallocate()
    }
}
