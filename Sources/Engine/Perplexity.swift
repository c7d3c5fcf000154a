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

/// A model scored against a KL-divergence base: the row after each chunk and the closing statistics.
public struct KLDivergenceResult: Sendable, Codable {
    public var rows: [KLDivergenceChunkRow]
    public var statistics: KLDivergenceStatistics

    public init(rows: [KLDivergenceChunkRow], statistics: KLDivergenceStatistics) {
        self.rows = rows
        self.statistics = statistics
    }
}

public enum PerplexityError: Error, CustomStringConvertible, Equatable {
    /// The text has fewer tokens than one chunk.
    case textTooShort(tokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case .textTooShort(let tokens, let n):
            "the text has \(tokens) tokens, fewer than one chunk of \(n): use a longer text or a smaller --ctx"
        }
    }
}

extension Engine {
    /// `text`'s tokens as llama-perplexity takes them (BOS as the model says, special tokens as text).
    public func perplexityTokens(_ text: String) -> [TokenID] { tokenizer.tokenize(text, addSpecial: true, parseSpecial: false) }

    /// llama-perplexity's perplexity of `text`; with `basePath`, also writes its KL-divergence base there
    /// (`--kl-divergence-base` without `--kl-divergence`).
    public func perplexity(text: String, contextLength: Int, maxChunks: Int? = nil, basePath: String? = nil,
                           progress: (Int, Double) -> Void = { _, _ in }) throws -> PerplexityResult {
        let tokens = perplexityTokens(text)
        var chunks = tokens.count / contextLength
        if let maxChunks { chunks = min(chunks, maxChunks) }
        guard chunks > 0 else { throw PerplexityError.textTooShort(tokens: tokens.count, contextLength: contextLength) }
        let writer = try basePath.map {
            try KLDivergenceBaseWriter(path: $0, contextLength: contextLength, vocabularySize: model.config.vocabSize,
                                       tokens: tokens[0..<(chunks * contextLength)])
        }
        var scores = TokenScores()
        var running: [Double] = []
        do {
            try forEachScoredPosition(tokens, contextLength: contextLength, chunks: chunks) { _, _, logits, target in
                if let writer { try writer.append(logits: logits, target: target) }
                scores.add(target, under: logits)
            } endOfChunk: { c in
                running.append(exp(-scores.logprob / Double(max(scores.tokens, 1))))
                progress(c + 1, running.last!)
            }
            try writer?.finish()
        } catch {
            writer?.discard()
            throw error
        }
        return PerplexityResult(chunks: chunks, scoredTokens: scores.tokens, meanNLL: -scores.logprob / Double(max(scores.tokens, 1)), running: running)
    }

    /// Scores this model against `base` (llama-perplexity `--kl-divergence`): the base's tokens, chunks
    /// and context; `text`, when given, must tokenize to the base's tokens. `progress` hears each chunk's row.
    public func klDivergence(base: KLDivergenceBase, text: (name: String, content: String)? = nil,
                             progress: (KLDivergenceChunkRow) -> Void = { _ in }) throws -> KLDivergenceResult {
        try base.checkCompatible(vocabularySize: model.config.vocabSize, tokenizer: tokenizer)
        if let text { try base.checkTokens(perplexityTokens(text.content), text: text.name) }
        var sums = KLDivergenceSums()
        var kld: [Float] = [], pDiff: [Float] = []
        kld.reserveCapacity(base.chunks * base.scoredPerChunk)
        pDiff.reserveCapacity(base.chunks * base.scoredPerChunk)
        var rows: [KLDivergenceChunkRow] = []
        try forEachScoredPosition(base.tokens, contextLength: base.contextLength, chunks: base.chunks) { c, k, logits, target in
            let v = base.withRecord(chunk: c, position: k) { sums.add(logits: logits, base: $0, token: Int(target)) }
            kld.append(Float(v.kld))
            pDiff.append(v.pDiff)
        } endOfChunk: { c in
            rows.append(KLDivergenceChunkRow(chunk: c + 1, sums: sums))
            progress(rows.last!)
        }
        return KLDivergenceResult(rows: rows, statistics: KLDivergenceStatistics(chunks: base.chunks, contextLength: base.contextLength,
                                                                                 sums: sums, kld: kld, pDiff: pDiff))
    }

    /// Runs each of the first `chunks` chunks of `tokens` from an empty cache, BOS first when the model
    /// adds one; `body(chunk, k, logits, target)` sees the logits at position contextLength/2 + k and the
    /// token that followed, for k in 0 ..< contextLength - 1 - contextLength/2.
    func forEachScoredPosition(_ tokens: [TokenID], contextLength: Int, chunks: Int,
                               _ body: (Int, Int, UnsafeBufferPointer<Float>, TokenID) throws -> Void,
                               endOfChunk: (Int) -> Void) throws {
        let first = contextLength / 2
        let runner = makeRunner(contextLength: contextLength)
        for c in 0..<chunks {
            var chunk = Array(tokens[(c * contextLength)..<((c + 1) * contextLength)])
            let original = chunk
            if tokenizer.addBOS, let bos = tokenizer.bos { chunk[0] = bos }
            runner.reset()
            try runner.prefill(chunk, allLogits: true) { i, logits in
                guard i >= first, i < contextLength - 1 else { return }
                try body(c, i - first, logits, original[i + 1])
            }
            endOfChunk(c)
        }
    }
}
