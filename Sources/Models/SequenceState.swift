import Compute

/// One sequence: its KV cache and the scratch of one prompt chunk. Allocated once; nothing is
/// allocated per token.
public final class SequenceState: @unchecked Sendable {
    public let cache: KVCache
    /// Tokens per forward chunk (llama.cpp's ubatch).
    public let chunkSize: Int
    /// Scratch of one chunk (chunkSize rows).
    let scratch: Workspace

    init(config c: ModelConfig, capacity: Int, cacheType: KVCacheType, threads: Int, chunkSize: Int = 64) {
        self.chunkSize = max(1, min(chunkSize, capacity))
        cache = KVCache(shape: c.shape, capacity: capacity, type: cacheType, chunkSize: self.chunkSize)
        scratch = Workspace(shape: c.shape, rows: self.chunkSize, contextLength: capacity, threads: threads)
    }

    /// Tokens in the cache (the next token's position).
    public var count: Int { cache.count }
    /// Most tokens this sequence can hold.
    public var capacity: Int { cache.capacity }
    public var cacheType: KVCacheType { cache.type }
    /// See `KVCache.phasedAttentionMinKeys`.
    public var phasedAttentionMinKeys: Int {
        get { cache.phasedAttentionMinKeys }
        set { cache.phasedAttentionMinKeys = newValue }
    }

    /// Forgets every token (the memory is kept).
    public func reset() { cache.reset() }

    /// Drops the tokens from `position` on, e.g. to reuse a shared prompt prefix. Sliding-window
    /// layers may have overwritten older rows, so only a cut within the last chunk is safe there.
    public func truncate(to position: Int) { cache.truncate(to: position) }
}
