import Foundation
import SeededRandom

/// How the next token is chosen. `temperature` 0 is greedy (argmax, first index on ties).
public struct SamplingParameters: Sendable, Equatable, Codable {
    public var temperature: Float = 0.8
    /// 0 keeps every token.
    public var topK: Int = 40
    /// 1 keeps every token.
    public var topP: Float = 0.95
    /// 0 keeps every token.
    public var minP: Float = 0.05
    /// 1 is off. Applied to the logits of tokens among the last `repetitionWindow` (llama.cpp's
    /// penalty: positive logits divided, negative multiplied).
    public var repetitionPenalty: Float = 1
    public var repetitionWindow: Int = 64
    /// OpenAI's `frequency_penalty` and `presence_penalty` (0 is off): subtracted from the logit of a
    /// token seen n > 0 times among the last `repetitionWindow`, n times and once (llama.cpp's order:
    /// after the repetition penalty).
    public var frequencyPenalty: Float = 0
    public var presencePenalty: Float = 0
    public var seed: UInt64 = 0

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, frequencyPenalty: Float = 0, presencePenalty: Float = 0,
                seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.seed = seed
    }

    /// Whether any penalty looks at the tokens so far.
    public var penalizes: Bool { repetitionPenalty != 1 || frequencyPenalty != 0 || presencePenalty != 0 }

    public static let greedy = SamplingParameters(temperature: 0)

    /// Throws for values no sampler defines (negative or non-finite temperature, top-p outside
    /// (0, 1], min-p outside [0, 1], negative top-k, a non-positive repetition penalty), naming
    /// the option as llama.cpp's CLI spells it.
    public func validate() throws(EngineError) {
        func bad(_ message: String) -> EngineError { .invalidSampling(message) }
        guard temperature.isFinite, temperature >= 0 else { throw bad("--temp must be a number at least 0 (got \(temperature))") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw bad("--top-p must be greater than 0 and at most 1 (got \(topP))") }
        guard minP.isFinite, (0...1).contains(minP) else { throw bad("--min-p must be between 0 and 1 (got \(minP))") }
        guard topK >= 0 else { throw bad("--top-k must be at least 0 (got \(topK))") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw bad("--repeat-penalty must be a number greater than 0 (got \(repetitionPenalty))")
        }
        guard repetitionWindow >= 0 else { throw bad("the repetition window must be at least 0 (got \(repetitionWindow))") }
        guard frequencyPenalty.isFinite, presencePenalty.isFinite else { throw bad("--frequency-penalty and --presence-penalty must be numbers") }
    }
}

/// Chooses tokens from logits. Owns its random state and scratch (allocated once per vocabulary size).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: SplitMix64
    private var candidates: [(id: Int32, logit: Float)] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed)
    }

    /// Index of the largest logit (the first one on ties).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        var value = -Float.infinity
        for i in 0..<logits.count where logits[i] > value {
            value = logits[i]
            best = i
        }
        return Int32(best)
    }

    /// The next token given `logits` and the tokens so far (for the repetition penalty).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: [Int32] = []) -> Int32 {
        let p = parameters
        var penalized: [Int32: Int] = [:]
        if p.penalizes { for t in history.suffix(p.repetitionWindow) { penalized[t, default: 0] += 1 } }
        func adjusted(_ i: Int) -> Float {
            let l = logits[i]
            guard let n = penalized[Int32(i)] else { return l }
            let r = p.repetitionPenalty == 1 ? l : (l > 0 ? l / p.repetitionPenalty : l * p.repetitionPenalty)
            return r - Float(n) * p.frequencyPenalty - p.presencePenalty
        }
        if p.temperature <= 0 {
            if penalized.isEmpty { return Self.argmax(logits) }
            var best = 0
            var value = -Float.infinity
            for i in 0..<logits.count where adjusted(i) > value { value = adjusted(i); best = i }
            return Int32(best)
        }
        candidates.removeAll(keepingCapacity: true)
        candidates.reserveCapacity(logits.count)
        for i in 0..<logits.count { candidates.append((Int32(i), adjusted(i))) }
        // Top-k, then temperature softmax, then top-p and min-p (llama.cpp's default chain order).
        candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if p.topK > 0 && p.topK < candidates.count { candidates.removeLast(candidates.count - p.topK) }
        let maxLogit = candidates[0].logit
        var probs = candidates.map { Double(exp(($0.logit - maxLogit) / p.temperature)) }
        var total = probs.reduce(0, +)
        var keep = probs.count
        if p.topP < 1 {
            var cum = 0.0
            for (i, q) in probs.enumerated() {
                cum += q / total
                if cum >= Double(p.topP) { keep = i + 1; break }
            }
        }
        if p.minP > 0 {
            let floor = probs[0] * Double(p.minP)
            keep = min(keep, max(1, probs.prefix(keep).firstIndex { $0 < floor } ?? keep))
        }
        probs.removeLast(probs.count - keep)
        total = probs.reduce(0, +)
        var r = rng.nextDouble() * total
        for (i, q) in probs.enumerated() {
            r -= q
            if r < 0 { return candidates[i].id }
        }
        return candidates[keep - 1].id
    }
}

/// Log-probabilities from logits.
public enum LogProbs {
    /// log Σ exp(logits), in double.
    public static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> Double {
        var m = -Float.infinity
        for v in logits where v > m { m = v }
        var s = 0.0
        for v in logits { s += Double(exp(v - m)) }
        return Double(m) + log(s)
    }

    /// log p(token) under `logits` whose log-sum-exp is `lse`: the one definition of a logprob.
    public static func logprob(of token: Int32, in logits: UnsafeBufferPointer<Float>, logSumExp lse: Double) -> Double {
        Double(logits[Int(token)]) - lse
    }

    /// The `k` most likely tokens with their log-probabilities, most likely first.
    public static func top(_ k: Int, of logits: UnsafeBufferPointer<Float>, logSumExp lse: Double? = nil) -> [TokenLogProb] {
        let lse = lse ?? logSumExp(logits)
        guard k > 0 else { return [] }
        var best: [(Int, Float)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<logits.count {
            let v = logits[i]
            if best.count == k, let last = best.last, v <= last.1 { continue }
            let at = best.firstIndex { v > $0.1 } ?? best.count
            best.insert((i, v), at: at)
            if best.count > k { best.removeLast() }
        }
        return best.map { TokenLogProb(id: Int32($0.0), logprob: Float(logprob(of: Int32($0.0), in: logits, logSumExp: lse))) }
    }
}

public struct TokenLogProb: Sendable, Equatable, Codable {
    public var id: Int32
    public var logprob: Float
    public init(id: Int32, logprob: Float) { self.id = id; self.logprob = logprob }
}
