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
    ///
    /// Top-k, then temperature softmax, then top-p and min-p (llama.cpp's default chain order). Only the candidates a
    /// step can keep are ordered: top-k selects its k with a heap (one pass over the vocabulary) and sorts those; without
    /// top-k, min-p's floor drops tokens unsorted, top-p sorts the most likely tokens in growing batches until the
    /// nucleus is covered, and with neither the draw walks the vocabulary in index order (any fixed order draws from
    /// the same distribution). So a 262k vocabulary costs a pass or two, not a sort, per token.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: [Int32] = []) -> Int32 {
        let p = parameters
        var penalized: [Int32: Int] = [:]
        if p.penalizes { for t in history.suffix(p.repetitionWindow) where t >= 0 && Int(t) < logits.count { penalized[t, default: 0] += 1 } }
        func adjusted(_ l: Float, _ n: Int) -> Float {
            let r = p.repetitionPenalty == 1 ? l : (l > 0 ? l / p.repetitionPenalty : l * p.repetitionPenalty)
            return r - Float(n) * p.frequencyPenalty - p.presencePenalty
        }
        if p.temperature <= 0 {
            if penalized.isEmpty { return Self.argmax(logits) }
            var best = 0
            var value = -Float.infinity
            for i in 0..<logits.count {
                let v = penalized[Int32(i)].map { adjusted(logits[i], $0) } ?? logits[i]
                if v > value { value = v; best = i }
            }
            return Int32(best)
        }
        var values = Array(logits)
        for (t, n) in penalized { values[Int(t)] = adjusted(values[Int(t)], n) }
        return values.withUnsafeBufferPointer { draw($0) }
    }

    /// Whether candidate a comes before b: the larger logit first, the smaller id on ties.
    @inline(__always) static func before(_ a: (id: Int32, logit: Float), _ b: (id: Int32, logit: Float)) -> Bool {
        a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
    }

    /// The `k` first candidates in `before` order, sorted: a min-heap of size k (its root the last one kept) over one pass.
    static func best(_ k: Int, of values: UnsafeBufferPointer<Float>, where keep: (Int) -> Bool = { _ in true }) -> [(id: Int32, logit: Float)] {
        var heap: [(id: Int32, logit: Float)] = []
        heap.reserveCapacity(k)
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var worst = i
                if l < heap.count && before(heap[worst], heap[l]) { worst = l }
                if r < heap.count && before(heap[worst], heap[r]) { worst = r }
                if worst == i { return }
                heap.swapAt(i, worst)
                i = worst
            }
        }
        for i in 0..<values.count where keep(i) {
            let c = (id: Int32(i), logit: values[i])
            if heap.count < k {
                heap.append(c)
                var j = heap.count - 1
                while j > 0 {
                    let parent = (j - 1) / 2
                    guard before(heap[parent], heap[j]) else { break }
                    heap.swapAt(parent, j)
                    j = parent
                }
            } else if before(c, heap[0]) {
                heap[0] = c
                siftDown(0)
            }
        }
        heap.sort(by: before)
        return heap
    }

    mutating func draw(_ values: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        let n = values.count
        if p.topK > 0 && p.topK < n {
            candidates = Self.best(p.topK, of: values)
            return drawSorted()
        }
        var maxLogit = -Float.infinity
        for v in values where v > maxLogit { maxLogit = v }
        func prob(_ l: Float) -> Double { Double(exp((l - maxLogit) / p.temperature)) }
        // min-p keeps prob ≥ max prob × min-p, whatever top-p keeps (the most likely token has prob 1 here).
        let floor = Double(p.minP)
        let kept: (Int) -> Bool = p.minP > 0 ? { prob(values[$0]) >= floor } : { _ in true }
        // Top-p's share is of the whole mass (llama.cpp normalizes before min-p cuts).
        var total = 0.0, keptTotal = 0.0
        var count = 0
        for i in 0..<n {
            let q = prob(values[i])
            total += q
            if kept(i) { keptTotal += q; count += 1 }
        }
        guard total > 0, total.isFinite else { return Self.argmax(values) }
        guard p.topP < 1 else {
            // No ordering needed: inverse CDF over the kept tokens in index order.
            var r = rng.nextDouble() * keptTotal
            var last = Int(Self.argmax(values))
            for i in 0..<n where kept(i) {
                let q = prob(values[i])
                guard q > 0 else { continue }
                r -= q
                last = i
                if r < 0 { return Int32(i) }
            }
            return Int32(last)
        }
        // Top-p: the most likely tokens, sorted, in growing batches until their mass reaches top-p of the whole.
        var m = min(count, 1024)
        while true {
            let sorted = Self.best(m, of: values, where: kept)
            var cum = 0.0
            for (i, c) in sorted.enumerated() {
                cum += prob(c.logit) / total
                if cum >= Double(p.topP) || i == count - 1 {
                    let nucleus = sorted.prefix(i + 1)
                    var r = rng.nextDouble() * nucleus.reduce(0) { $0 + prob($1.logit) }
                    for c in nucleus {
                        r -= prob(c.logit)
                        if r < 0 { return c.id }
                    }
                    return (nucleus.last { prob($0.logit) > 0 } ?? nucleus[0]).id
                }
            }
            m = min(count, m * 8)
        }
    }

    /// Temperature softmax, top-p and min-p over `candidates`, already in `before` order (llama.cpp's chain after top-k).
    mutating func drawSorted() -> Int32 {
        let p = parameters
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
