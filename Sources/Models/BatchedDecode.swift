import Compute

/// Several sequences in one forward pass.
///
/// A forward pass runs over workspace rows grouped in segments: each segment is a run of tokens of
/// one sequence. A prompt chunk is one segment of many rows; a batched decode step is one segment
/// of one row per sequence. Row-wise steps (norms, weight products, activations) see all rows
/// together, so each weight matrix is read once per step; RoPE, the KV-cache writes and attention
/// follow each row's own sequence and position.

/// An architecture's forward pass over segments, shared by prompt chunks and batched decode.
protocol SegmentedForward: LanguageModel {
    var pool: ThreadPool { get }
    var ends: EmbeddingAndHead { get }
    /// cap · tanh(logit / cap) on the logits, when the model has one.
    var finalLogitSoftcap: Float? { get }
    /// Runs `tokens` (one per workspace row) through the network; the residual stream ends in
    /// w.x and every segment's sequence advances by its count.
    ///
    /// With `lastRowOnly` (one segment, only its last token's logits wanted) an architecture may run
    /// its last layer after attention on that row alone, as llama.cpp does; its result is then row 0.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, segments: UnsafeBufferPointer<Segment>, workspace w: Workspace,
                 lastRowOnly: Bool) throws
    /// Whether `forward` honours `lastRowOnly`.
    var runsLastRowOnly: Bool { get }
}

extension SegmentedForward {
    func makeState(contextLength: Int, cacheType: KVCacheType = .f16) -> SequenceState {
        SequenceState(config: config, capacity: contextLength, cacheType: cacheType, threads: pool.threads)
    }

    func evaluate(_ tokens: [Int32], state: SequenceState, allLogits: Bool,
                         _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        try evaluateChunks(tokens, state: state, allLogits: allLogits, body)
    }

    func hiddenStates(_ tokens: [Int32], state s: SequenceState,
                      _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        let w = s.scratch, d = config.embeddingWidth
        try forwardChunks(tokens, state: s, lastRowMayRunAlone: false) { done, n, _ in
            rmsNorm(w.x, ends.outputNorm, into: w.xn, rows: n)
            for r in 0..<n { try body(done + r, UnsafeBufferPointer(start: w.xn + r * d, count: d)) }
        }
    }

    func makeWorkspace(rows: Int, contextLength: Int) -> Workspace {
        Workspace(shape: config.shape, rows: rows, contextLength: contextLength, threads: pool.threads)
    }

    func decode(_ tokens: [Int32], states: [SequenceState], workspace: Workspace,
                       _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        try decodeBatch(tokens, states: states, workspace: workspace, body)
    }

    /// The plan of a forward pass's matrix products: rows of several sequences (batched decode)
    /// each as if it ran alone, else llama.cpp's order for a batch of that many rows.
    func matmulPlan(_ segments: UnsafeBufferPointer<Segment>) -> MatmulPlan {
        segments.count > 1 ? .llamaCppRowsAlone : .llamaCppBatch
    }

    /// RMSNorm with the model's epsilon of `rows` rows of `width` values (default: the embedding width).
    func rmsNorm(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                 rows: Int, width: Int? = nil) {
        Compute.rmsNorm(x, weight: weight, into: y, rows: rows, width: width ?? config.embeddingWidth,
                        eps: Float(config.normEpsilon), pool: pool)
    }

    /// outputs[k] = x · weights[k]ᵀ for `rows` rows of x.
    func project(_ x: UnsafePointer<Float>, _ weights: [QuantizedMatrix], into outputs: [UnsafeMutablePointer<Float>],
                 rows: Int, plan: MatmulPlan) throws {
        try Compute.matmul(weights: weights, x: x, count: rows, outputs: outputs, pool: pool, plan: plan)
    }

    /// Logits of workspace rows `rows` into w.logits (packed from row 0), multiplied as `plan` says.
    func logits(rows: Range<Int>, workspace w: Workspace, plan: MatmulPlan) throws {
        let d = config.embeddingWidth
        rmsNorm(w.x + rows.lowerBound * d, ends.outputNorm, into: w.xn, rows: rows.count)
        try project(w.xn, [ends.output], into: [w.logits], rows: rows.count, plan: plan)
        if let cap = finalLogitSoftcap { Compute.softcap(w.logits, count: rows.count * config.vocabSize, cap: cap) }
    }

    /// Checks the tokens and the room left before a forward pass.
    func check(_ tokens: some Collection<Int32>, state s: SequenceState) throws(InferenceError) {
        if s.count + tokens.count > s.capacity {
            throw .contextFull(position: s.count + tokens.count - 1, capacity: s.capacity)
        }
        for t in tokens where t < 0 || Int(t) >= config.vocabSize { throw .badToken(t, vocabularySize: config.vocabSize) }
    }

    /// Prompt evaluation of one sequence in chunks of `state.chunkSize` rows.
    func evaluateChunks(_ tokens: [Int32], state s: SequenceState, allLogits: Bool,
                        _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        let w = s.scratch, vocab = config.vocabSize
        try forwardChunks(tokens, state: s, lastRowMayRunAlone: !allLogits) { done, n, lastOnly in
            guard allLogits || done + n == tokens.count else { return }
            let first = allLogits ? 0 : n - 1
            try logits(rows: lastOnly ? 0..<1 : first..<n, workspace: w, plan: .llamaCppBatch)
            for r in first..<n {
                try body(done + r, UnsafeBufferPointer(start: w.logits + (r - first) * vocab, count: vocab))
            }
        }
    }

    /// Runs one sequence's tokens through the network in chunks of `state.chunkSize` rows. After each
    /// chunk `after(done, n, lastOnly)` finds the residual stream of tokens done..<done+n in the
    /// scratch's x; with `lastOnly` (allowed for the final chunk by `lastRowMayRunAlone`) only that of
    /// the chunk's last token, as row 0.
    private func forwardChunks(_ tokens: [Int32], state s: SequenceState, lastRowMayRunAlone: Bool,
                               after: (Int, Int, Bool) throws -> Void) throws {
        try check(tokens, state: s)
        try tokens.withUnsafeBufferPointer { all in
            var done = 0
            while done < all.count {
                let n = min(s.chunkSize, all.count - done)
                var segment = Segment(cache: s.cache, start: s.count, row: 0, count: n)
                let lastOnly = runsLastRowOnly && lastRowMayRunAlone && done + n == all.count && n > 1
                try withUnsafePointer(to: &segment) { seg in
                    try forward(UnsafeBufferPointer(rebasing: all[done..<(done + n)]),
                                segments: UnsafeBufferPointer(start: seg, count: 1), workspace: s.scratch, lastRowOnly: lastOnly)
                }
                try after(done, n, lastOnly)
                done += n
            }
        }
    }

    /// One decode step of several sequences: row i is token i of sequence i.
    func decodeBatch(_ tokens: [Int32], states: [SequenceState], workspace w: Workspace,
                     _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        precondition(tokens.count == states.count, "one token per sequence")
        precondition(tokens.count <= w.rows, "more sequences than workspace rows")
        precondition(w.threads == pool.threads, "workspace made for another thread count")
        let n = tokens.count
        guard n > 0 else { return }
        for (i, s) in states.enumerated() {
            precondition(s.capacity <= w.contextLength, "sequence longer than the workspace's context")
            precondition(!states[..<i].contains { $0 === s }, "a sequence appears twice in one batch")
            try check(tokens[i..<(i + 1)], state: s)
        }
        for (i, s) in states.enumerated() { (w.segments + i).initialize(to: Segment(cache: s.cache, start: s.count, row: i, count: 1)) }
        defer { w.segments.deinitialize(count: n) }
        try tokens.withUnsafeBufferPointer { t in
            try forward(t, segments: UnsafeBufferPointer(start: w.segments, count: n), workspace: w, lastRowOnly: false)
        }
        try logits(rows: 0..<n, workspace: w, plan: .llamaCppRowsAlone)
        let vocab = config.vocabSize
        for i in 0..<n { try body(i, UnsafeBufferPointer(start: w.logits + i * vocab, count: vocab)) }
    }
}
