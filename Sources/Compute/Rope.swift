import CKernels

/// Rotary position embedding of one layer, as llama.cpp's CPU build computes it (angles by
/// repeated multiplication, pairs with FMA): θᵢ = (position / scalingFactor) · base^(−2i / rotatedDims).
public struct Rope: Sendable {
    /// Pair layouts: `.normal` rotates (x[2i], x[2i+1]) (llama), `.neox` rotates (x[i], x[i + d/2])
    /// (Gemma 3, NeoX).
    public enum Layout: Sendable { case normal, neox }

    public var headDim: Int
    /// Dimensions of each head that rotate (the first ones); the rest pass through.
    public var rotatedDims: Int
    public var base: Float
    public var scalingFactor: Float
    public var layout: Layout

    public init(headDim: Int, rotatedDims: Int? = nil, base: Float, scalingFactor: Float = 1, layout: Layout) {
        self.headDim = headDim
        self.rotatedDims = rotatedDims ?? headDim
        self.base = base
        self.scalingFactor = scalingFactor
        self.layout = layout
    }

    /// Rotates `heads` heads of one row in place at `position`.
    public func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        fw_rope_llamacpp(x, Int64(heads), Int64(headDim), Int64(rotatedDims), Int64(position), base, scalingFactor,
                         layout == .neox ? 1 : 0)
    }

    /// Rotates the queries (`heads` per row) and keys (`kvHeads` per row) of every segment's rows
    /// at their positions.
    public func rotate(queries q: UnsafeMutablePointer<Float>, heads: Int, keys k: UnsafeMutablePointer<Float>, kvHeads: Int,
                       segments: UnsafeBufferPointer<Segment>, pool: ThreadPool) {
        let qw = heads * headDim, kw = kvHeads * headDim
        pool.forEachRow(segments) { r, position in
            rotate(q + r * qw, heads: heads, position: position)
            rotate(k + r * kw, heads: kvHeads, position: position)
        }
    }
}

extension ThreadPool {
    /// Runs `body(row, position)` for every row of the segments, rows split over the pool from 8 rows.
    public func forEachRow(_ segments: some Collection<Segment>, _ body: (_ row: Int, _ position: Int) -> Void) {
        let n = segments.reduce(0) { $0 + $1.count }
        if n < 8 {
            for seg in segments { for t in 0..<seg.count { body(seg.row + t, seg.start + t) } }
            return
        }
        var rows: [(row: Int, position: Int)] = []
        rows.reserveCapacity(n)
        for seg in segments { for t in 0..<seg.count { rows.append((seg.row + t, seg.start + t)) } }
        rows.withUnsafeBufferPointer { rows in
            parallelFor(n) { range in for i in range { body(rows[i].row, rows[i].position) } }
        }
    }
}
