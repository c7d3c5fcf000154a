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
        let runner = makeRunner(contextLength: contextLength)
        var scores = TokenScores()
        var running: [Double] = []
        for c in 0..<chunks {
            var chunk = Array(tokens[(c * contextLength)..<((c + 1) * contextLength)])
            if tokenizer.addBOS, let bos = tokenizer.bos { chunk[0] = bos }
            runner.reset()
            try runner.score(chunk, targets: chunk[(first + 1)...], firstScored: first, into: &scores)
            running.append(exp(-scores.logprob / Double(max(scores.tokens, 1))))
            progress(c + 1, running.last!)
        }
        return PerplexityResult(chunks: chunks, scoredTokens: scores.tokens, meanNLL: -scores.logprob / Double(max(scores.tokens, 1)), running: running)
    }
}
