import Compute
import Testing

/// What a KV cache holds: full layers keep `capacity` rows, sliding-window layers a ring of window + one chunk.
struct KVCacheTests {
    @Test func bytesCountEveryLayersRows() {
        let shape = TransformerShape(embeddingWidth: 32, ffnWidth: 64, vocabSize: 10, heads: 4, kvHeads: 2, headDim: 8,
                                     valueHeadDim: 6, layerWindows: [nil, 4, 100])
        // Per row: 2 kv heads x (8 + 6) values x 2 bytes = 56. Rows: 16, min(16, 4 + 2) = 6, min(16, 100 + 2) = 16.
        #expect(KVCache(shape: shape, capacity: 16, type: .f16, chunkSize: 2).bytes == 56 * (16 + 6 + 16))
        #expect(KVCache(shape: shape, capacity: 16, type: .f32, chunkSize: 2).bytes == 112 * (16 + 6 + 16))
    }
}
