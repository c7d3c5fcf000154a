import Foundation
import Models
import Tokenizers

/// Perplexity as llama.cpp's llama-perplexity computes it: the text's tokens cut into chunks of
/// `contextLength`, each chunk's first token replaced by BOS (when the model adds one), every
/// chunk evaluated from an empty cache, and only the second half of each chunk scored.
public struct PerplexityResult: Sendable, Codable {
    public var chunks: Int
    public var scoredTokens: Int
    /// Mean negative log-likelihood per scored token, in nats.
    public var meanNLL: Double
    public var perplexity: Double { exp(meanNLL) }
    /// Perplexity after each chunk, as llama-perplexity prints it.
    public var running: [Double]
}

extension Engine {
    public func perplexity(text: String, contextLength: Int, maxChunks: Int? = nil,
                           progress: (Int, Double) -> Void = { _, _ in }) throws -> PerplexityResult {
        let tokens = tokenizer.tokenize(text, addSpecial: true, parseSpecial: false)
        var chunks = tokens.count / contextLength
        if let maxChunks { chunks = min(chunks, maxChunks) }
        let first = contextLength / 2
        let state = model.makeState(contextLength: contextLength, cacheType: cacheType)
        var nll = 0.0
        var count = 0
        var running: [Double] = []
        for c in 0..<chunks {
            var chunk = Array(tokens[(c * contextLength)..<((c + 1) * contextLength)])
            if tokenizer.addBOS, let bos = tokenizer.bos { chunk[0] = bos }
            state.reset()
            try model.evaluate(chunk, state: state, allLogits: true) { i, logits in
                guard i >= first, i + 1 < contextLength else { return }
                let target = Int(chunk[i + 1])
                nll += LogProbs.logSumExp(logits) - Double(logits[target])
                count += 1
            }
            running.append(exp(nll / Double(max(count, 1))))
            progress(c + 1, running.last!)
        }
        return PerplexityResult(chunks: chunks, scoredTokens: count, meanNLL: nll / Double(max(count, 1)), running: running)
    }
}
