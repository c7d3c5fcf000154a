import Foundation
import Models
import Tokenizers

/// One sequence through a model: prefill with every position's logits or only the last, step one
/// token at a time, score target tokens. Every token run, chat, serve, eval, perplexity and bench
/// produce or score goes through it (the batched decode of `Scheduler` steps many at once with
/// `model.decode`, choosing each sequence's token with the same `Generation`).
public struct SequenceRunner: Sendable {
    public let model: any LanguageModel
    public let state: SequenceState

    public init(model: any LanguageModel, state: SequenceState) {
        self.model = model
        self.state = state
    }

    /// Appends `tokens` after what the cache holds; `onLogits(i, logits)` sees the logits after
    /// token i for every i (`allLogits`) or only for the last. The buffer is reused: copy what you keep.
    public func prefill(_ tokens: [TokenID], allLogits: Bool,
                        _ onLogits: (Int, UnsafeBufferPointer<Float>) throws -> Void = { _, _ in }) throws {
        try model.evaluate(tokens, state: state, allLogits: allLogits, onLogits)
    }

    /// Appends one token; `onLogits` sees the logits for the token after it.
    public func step(_ token: TokenID, _ onLogits: (UnsafeBufferPointer<Float>) throws -> Void = { _ in }) throws {
        try model.evaluate([token], state: state, allLogits: false) { _, logits in try onLogits(logits) }
    }

    /// Appends `input` and adds to `sum` the score of `targets[k]` under the logits after token
    /// `firstScored + k` of the input (so `targets` are the tokens that followed those positions).
    public func score(_ input: [TokenID], targets: ArraySlice<TokenID>, firstScored: Int, into sum: inout TokenScores) throws {
        let targets = Array(targets)
        let end = firstScored + targets.count
        try model.evaluate(input, state: state, allLogits: true) { i, logits in
            guard i >= firstScored, i < end else { return }
            sum.add(targets[i - firstScored], under: logits)
        }
    }

    /// Empties the cache: the next prefill starts a new sequence.
    public func reset() { state.reset() }
}

/// A running sum of target tokens' logprobs, and whether every one was the greedy (argmax) choice.
public struct TokenScores: Sendable, Equatable {
    public var logprob = 0.0
    public var greedy = true
    public var tokens = 0

    public init() {}

    public mutating func add(_ token: TokenID, under logits: UnsafeBufferPointer<Float>) {
        logprob += LogProbs.logprob(of: token, in: logits, logSumExp: LogProbs.logSumExp(logits))
        greedy = greedy && logits[Int(token)] >= logits[Int(Sampler.argmax(logits))]
        tokens += 1
    }
}

/// One request's token choice and output, shared by `Engine.generate` (one sequence) and `Scheduler`
/// (many, decoded together): the sampler, the history it penalizes, the chosen token with its
/// logprob and alternatives, the detokenizer and the timings.
struct Generation {
    let request: GenerationRequest
    private let tokenizer: Tokenizer
    private var sampler: Sampler
    /// The request's grammar, applied to every choice.
    private let constraint: TokenConstraint?
    private var detokenizer: StreamingDetokenizer
    private var history: [TokenID]
    /// The token chosen from the last logits, not yet emitted.
    private(set) var next: TokenID = 0
    private var chosen = TokenLogProb(id: 0, logprob: 0)
    private var alternatives: [TokenLogProb] = []
    private(set) var generated = 0
    private var timings = GenerationTimings()
    private var decodeStart = Date()

    init(_ request: GenerationRequest, tokenizer: Tokenizer) {
        self.request = request
        self.tokenizer = tokenizer
        sampler = Sampler(request.sampling)
        constraint = request.grammar.map { TokenConstraint(grammar: $0, tokenizer: tokenizer, special: request.renderSpecialTokens) }
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, special: request.renderSpecialTokens)
        history = request.prompt
    }

    /// Prefills the prompt and chooses the first token. With `promptLogprobs`: each prompt token's
    /// logprob (nil for the first) and, when `withTop`, the request's `topLogprobs` alternatives at its position.
    mutating func prefill(_ runner: SequenceRunner, withTop: Bool) throws -> (logprobs: [TokenLogProb?], top: [[TokenLogProb]]) {
        let prompt = request.prompt
        let scored = request.promptLogprobs
        let topCount = withTop && scored ? request.topLogprobs : 0
        var logprobs: [TokenLogProb?] = scored ? [nil] : []
        var top: [[TokenLogProb]] = withTop && scored ? [[]] : []
        let start = Date()
        try runner.prefill(prompt, allLogits: scored) { i, logits in
            if scored && i + 1 < prompt.count {
                let t = prompt[i + 1]
                let lse = LogProbs.logSumExp(logits)
                logprobs.append(TokenLogProb(id: t, logprob: Float(LogProbs.logprob(of: t, in: logits, logSumExp: lse))))
                if withTop { top.append(topCount > 0 ? LogProbs.top(topCount, of: logits, logSumExp: lse) : []) }
            }
            if i == prompt.count - 1 { choose(logits) }
        }
        timings.promptTokens = prompt.count
        timings.promptSeconds = Date().timeIntervalSince(start)
        decodeStart = Date()
        return (logprobs, top)
    }

    /// Chooses the next token from the logits after the last evaluated token.
    mutating func choose(_ logits: UnsafeBufferPointer<Float>) {
        if let constraint {
            // No token fits the grammar (it cannot happen with a grammar every vocabulary can spell):
            // end the generation as the model's own end would.
            next = constraint.choose(logits, sampler: &sampler, history: history)
                ?? tokenizer.eos ?? tokenizer.endOfGeneration.min() ?? Sampler.argmax(logits)
        } else {
            next = sampler.sample(logits, history: history)
        }
        let lse = LogProbs.logSumExp(logits)
        chosen = TokenLogProb(id: next, logprob: Float(LogProbs.logprob(of: next, in: logits, logSumExp: lse)))
        alternatives = request.topLogprobs > 0 ? LogProbs.top(request.topLogprobs, of: logits, logSumExp: lse) : []
    }

    /// The end-of-generation token that ended the generation (set when `emit` returns nil for it).
    private(set) var endToken: GeneratedToken?

    /// The chosen token as it streams; nil when it ends the generation (an end-of-generation token).
    mutating func emit() -> GeneratedToken? {
        if request.stopAtEndOfGeneration && tokenizer.isEndOfGeneration(next) {
            endToken = GeneratedToken(id: next, text: "", logprob: chosen.logprob, topLogprobs: alternatives)
            return nil
        }
        constraint?.accept(next)
        let token = GeneratedToken(id: next, text: detokenizer.append(next), logprob: chosen.logprob, topLogprobs: alternatives)
        generated += 1
        history.append(next)
        return token
    }

    /// Whether no further token may follow: the request's limit, or a full cache.
    func isComplete(_ state: SequenceState) -> Bool { generated >= request.maxTokens || state.count >= state.capacity }

    /// The text the detokenizer held back, and the timings.
    mutating func finish() -> (tail: String, timings: GenerationTimings) {
        timings.generatedTokens = generated
        timings.generationSeconds = Date().timeIntervalSince(decodeStart)
        timings.constraintSeconds = constraint?.seconds
        return (detokenizer.finish(), timings)
    }
}
