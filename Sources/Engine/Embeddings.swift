import Foundation
import Models
import Tokenizers

extension Engine {
    /// The embedding of one input as llama.cpp's server makes it with `--pooling mean` for its OpenAI
    /// endpoint (tools/server: mean pooling, then `common_embd_normalize` with embd_normalize 2): each
    /// token's last hidden state after the final norm, averaged over every token of the input, then
    /// scaled to unit Euclidean length. The input runs alone, from position 0, in a fresh sequence
    /// state of its own length, so nothing else the engine runs can see or change it.
    public func embedding(of tokens: [TokenID]) throws -> [Float] {
        guard !tokens.isEmpty else { throw EngineError.emptyPrompt }
        let width = model.config.embeddingWidth
        var sum = [Double](repeating: 0, count: width)
        let state = model.makeState(contextLength: min(tokens.count, contextLength), cacheType: cacheType)
        try model.hiddenStates(tokens, state: state) { _, row in
            for j in 0..<width { sum[j] += Double(row[j]) }
        }
        let mean = sum.map { $0 / Double(tokens.count) }
        let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return mean.map { Float(norm > 0 ? $0 / norm : 0) }
    }
}

/// Embeddings beside a running scheduler, one request at a time, each on a thread of its own.
///
/// Not a job on the scheduler's thread: a long input would stall every sequence decoding there for
/// its whole forward pass, and embedding tokens have no place in the batched decode step. Running
/// beside the scheduler is safe because an embedding never touches the scheduler's sequences: each
/// input gets its own fresh `SequenceState` (KV cache and scratch), the model holds only immutable
/// weights, and the thread pool lets concurrent callers take turns op by op, so a generation in
/// progress is slowed a little but computes the same. The forward pass runs on its own thread, so
/// the server's event loop and Swift's cooperative pool never wait on it. The lock serializes
/// requests, which bounds the memory of embedding states to one input's at a time and leaves
/// generation at least every other turn of the pool.
public final class Embedder: Sendable {
    public let engine: Engine
    private let lock = NSLock()

    public init(engine: Engine) { self.engine = engine }

    /// The embedding of each input, in order. Cancelling the calling task stops before the next input.
    public func embed(_ inputs: [[TokenID]]) async throws -> [[Float]] {
        let cancelled = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[[Float]], Error>) in
                let thread = Thread { [engine, lock] in
                    continuation.resume(with: Result {
                        try lock.withLock {
                            try inputs.map { tokens in
                                if cancelled.isSet { throw CancellationError() }
                                return try engine.embedding(of: tokens)
                            }
                        }
                    })
                }
                thread.name = "feather.embeddings"
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
    }
}
