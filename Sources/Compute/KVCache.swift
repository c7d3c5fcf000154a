import CKernels
import GGUF

/// Element type of the KV cache. F16 matches llama.cpp's default (`--cache-type-k f16`).
public enum KVCacheType: String, Sendable, CaseIterable {
    case f16, f32

    public var bytes: Int { self == .f16 ? 2 : 4 }
}

/// The sizes a transformer's scratch and KV cache are made for.
public struct TransformerShape: Sendable, Equatable {
    public var embeddingWidth: Int
    public var ffnWidth: Int
    public var vocabSize: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var valueHeadDim: Int
    /// For each layer, the tokens it attends to when it has a sliding window, else nil.
    public var layerWindows: [Int?]

    public init(embeddingWidth: Int, ffnWidth: Int, vocabSize: Int, heads: Int, kvHeads: Int, headDim: Int,
                valueHeadDim: Int, layerWindows: [Int?]) {
        self.embeddingWidth = embeddingWidth
        self.ffnWidth = ffnWidth
        self.vocabSize = vocabSize
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.valueHeadDim = valueHeadDim
        self.layerWindows = layerWindows
    }
}

/// The keys and values of one sequence, per layer. Allocated once; nothing is allocated per token.
public final class KVCache: @unchecked Sendable {
    /// Tokens in the cache (the next token's position).
    public private(set) var count = 0
    /// Most tokens the cache can hold.
    public let capacity: Int
    public let type: KVCacheType
    /// Bytes the keys and values of every layer take.
    public let bytes: Int
    /// Cache length from which a lone decode row's attention runs in three pool phases (below it
    /// the extra pool synchronisations cost more than the balance gains). Both paths give the
    /// same bits; tests move it to compare them.
    public var phasedAttentionMinKeys = 256
    let layers: [Layer]
    private var owned: [UnsafeMutableRawPointer] = []

    struct Layer {
        let k: UnsafeMutableRawPointer
        let v: UnsafeMutableRawPointer
        /// Rows held; for a sliding-window layer, window + chunk (a ring), else the capacity.
        let slots: Int
        let window: Int?

        /// The first position a query at `position` sees (llama.cpp: masked when query − key ≥ n_swa).
        func firstVisible(from position: Int) -> Int { window.map { max(0, position - $0 + 1) } ?? 0 }
    }

    /// A cache for `capacity` tokens written `chunkSize` at a time (a sliding-window layer keeps
    /// its window plus one chunk).
    public init(shape s: TransformerShape, capacity: Int, type: KVCacheType, chunkSize: Int) {
        self.capacity = capacity
        self.type = type
        var owned: [UnsafeMutableRawPointer] = []
        var layers: [Layer] = []
        var bytes = 0
        for window in s.layerWindows {
            var slots = capacity
            if let window { slots = min(capacity, window + chunkSize) }
            let kBytes = slots * s.kvHeads * s.headDim * type.bytes
            let vBytes = slots * s.kvHeads * s.valueHeadDim * type.bytes
            let kp = UnsafeMutableRawPointer.allocate(byteCount: max(kBytes, 1), alignment: 64)
            let vp = UnsafeMutableRawPointer.allocate(byteCount: max(vBytes, 1), alignment: 64)
            owned += [kp, vp]
            bytes += kBytes + vBytes
            layers.append(Layer(k: kp, v: vp, slots: slots, window: window))
        }
        self.layers = layers
        self.owned = owned
        self.bytes = bytes
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

    /// Counts `n` tokens written by the last forward pass.
    public func advance(by n: Int) { count += n }
}

/// Rows `row..<row+count` of a forward pass: tokens of the sequence of `cache`, at positions `start...`.
public struct Segment {
    public let cache: KVCache
    public let start: Int
    public let row: Int
    public let count: Int

    public init(cache: KVCache, start: Int, row: Int, count: Int) {
        self.cache = cache
        self.start = start
        self.row = row
        self.count = count
    }
}
