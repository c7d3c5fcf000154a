import Foundation

/// Several sequences in one forward pass.
///
/// A forward pass runs over workspace rows grouped in segments: each segment is a run of tokens of
/// one sequence. A prompt chunk is one segment of many rows; a batched decode step is one segment
/// of one row per sequence. Row-wise steps (norms, weight products, activations) see all rows
/// together, so each weight matrix is read once per step; RoPE, the KV-cache writes and attention
/// follow each row's own sequence and position.

/// Scratch memory of a forward pass over up to `rows` token rows that attend over at most
/// `contextLength` positions. Allocated once; nothing is allocated per step.
public final class Workspace: @unchecked Sendable {
    public let rows: Int
    public let contextLength: Int
    let threads: Int
    let x, xn, q, k, v, attn, o, gate, up: UnsafeMutablePointer<Float>
    let logits: UnsafeMutablePointer<Float>
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
    /// Segments of a batched decode step (uninitialized between steps).
    let segments: UnsafeMutablePointer<Segment>
    private var owned: [UnsafeMutableRawPointer] = []
    private var mapped: [(UnsafeMutableRawPointer, Int)] = []

    init(config c: ModelConfig, rows: Int, contextLength: Int, threads: Int) {
        self.rows = max(1, rows)
        self.contextLength = max(1, contextLength)
        self.threads = threads
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

    deinit {
        for p in owned { p.deallocate() }
        for (m, bytes) in mapped { munmap(m, bytes) }
        segments.deallocate()
    }
}

/// Rows `row..<row+count` of a forward pass: tokens of `state` at positions `start...`.
struct Segment {
    let state: SequenceState
    let start: Int
    let row: Int
    let count: Int
}

/// An architecture's forward pass over segments, shared by prompt chunks and batched decode.
protocol SegmentedForward: LanguageModel {
    var kernels: Kernels { get }
    /// Runs `tokens` (one per workspace row) through the network; the residual stream ends in
    /// w.x and every segment's sequence advances by its count.
    ///
    /// With `lastRowOnly` (one segment, only its last token's logits wanted) an architecture may run
    /// its last layer after attention on that row alone, as llama.cpp does; its result is then row 0.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace,
                 lastRowOnly: Bool) throws
    /// Whether `forward` honours `lastRowOnly`.
    var runsLastRowOnly: Bool { get }
    /// Logits of workspace rows `rows` into w.logits (packed from row 0). `independentRows`: the
    /// rows belong to different sequences (batched decode), each computed as if alone
    /// (Compute.matmul's `independentRows`); otherwise in llama.cpp's order for a batch of that size.
    func logits(rows: Range<Int>, workspace w: Workspace, independentRows: Bool) throws
}

extension SegmentedForward {
    /// Prompt evaluation of one sequence in chunks of `state.chunkSize` rows.
    func evaluateChunks(_ tokens: [Int32], state s: SequenceState, allLogits: Bool,
                        _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        try kernels.check(tokens, state: s)
        let w = s.scratch, vocab = config.vocabSize
        try tokens.withUnsafeBufferPointer { all in
            var done = 0
            while done < all.count {
                let n = min(s.chunkSize, all.count - done)
                var segment = Segment(state: s, start: s.count, row: 0, count: n)
                let lastOnly = runsLastRowOnly && !allLogits && done + n == all.count && n > 1
                try withUnsafePointer(to: &segment) { seg in
                    try forward(UnsafeBufferPointer(rebasing: all[done..<(done + n)]),
                                segments: UnsafeBufferPointer(start: seg, count: 1), workspace: w, lastRowOnly: lastOnly)
                }
                if allLogits || done + n == all.count {
                    let first = allLogits ? 0 : n - 1
                    try logits(rows: lastOnly ? 0..<1 : first..<n, workspace: w, independentRows: false)
                    for r in first..<n {
                        try body(done + r, UnsafeBufferPointer(start: w.logits + (r - first) * vocab, count: vocab))
                    }
                }
                done += n
            }
        }
    }

    func workspace(rows: Int, contextLength: Int) -> Workspace {
        Workspace(config: config, rows: rows, contextLength: contextLength, threads: kernels.pool.threads)
    }

    /// One decode step of several sequences: row i is token i of sequence i.
    func decodeBatch(_ tokens: [Int32], states: [SequenceState], workspace w: Workspace,
                     _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        precondition(tokens.count == states.count, "one token per sequence")
        precondition(tokens.count <= w.rows, "more sequences than workspace rows")
        precondition(w.threads == kernels.pool.threads, "workspace made for another thread count")
        let n = tokens.count
        guard n > 0 else { return }
        for (i, s) in states.enumerated() {
            precondition(s.capacity <= w.contextLength, "sequence longer than the workspace's context")
            precondition(!states[..<i].contains { $0 === s }, "a sequence appears twice in one batch")
            try kernels.check(tokens[i..<(i + 1)], state: s)
        }
        for (i, s) in states.enumerated() { (w.segments + i).initialize(to: Segment(state: s, start: s.count, row: i, count: 1)) }
        defer { w.segments.deinitialize(count: n) }
        try tokens.withUnsafeBufferPointer { t in
            try forward(t, segments: UnsafeBufferPointer(start: w.segments, count: n), workspace: w, lastRowOnly: false)
        }
        try logits(rows: 0..<n, workspace: w, independentRows: true)
        let vocab = config.vocabSize
        for i in 0..<n { try body(i, UnsafeBufferPointer(start: w.logits + i * vocab, count: vocab)) }
    }
}
