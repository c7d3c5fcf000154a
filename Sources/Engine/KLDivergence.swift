import Foundation

/// A value with its standard uncertainty, as llama-perplexity prints "x ± dx".
public struct Estimate: Sendable, Codable, Equatable {
    public var value: Double
    public var uncertainty: Double
    public init(_ value: Double, _ uncertainty: Double) {
        self.value = value
        self.uncertainty = uncertainty
    }
}

/// The running sums of llama-perplexity's `kl_divergence_result` (tools/perplexity/perplexity.cpp),
/// kept in its precisions: per-token terms in f32, sums in f64.
public struct KLDivergenceSums: Sendable, Codable, Equatable {
    public var sumNLL = 0.0, sumNLL2 = 0.0
    public var sumNLLBase = 0.0, sumNLLBase2 = 0.0
    public var sumNLLProduct = 0.0
    public var sumKLD = 0.0, sumKLD2 = 0.0
    public var sumPDiff = 0.0, sumPDiff2 = 0.0, sumPDiff4 = 0.0
    public var maxPDiff: Float = 0
    public var sameTop = 0
    public var count = 0

    public init() {}

    /// Adds one position: the model's `logits`, the base's log-probs there, the token that followed.
    /// Returns that position's KL(base || model) and Δp = p_model(token) - p_base(token).
    /// perplexity.cpp `log_softmax(n_vocab, logits, base_log_prob, tok, kld)`.
    @discardableResult
    public mutating func add(logits: UnsafeBufferPointer<Float>, base: BaseLogProbs, token: Int) -> (kld: Double, pDiff: Float) {
        var maxLogit = logits[0]
        var top = 0
        for i in 1..<logits.count where logits[i] > maxLogit {
            maxLogit = logits[i]
            top = i
        }
        var sumExp = 0.0
        for v in logits { sumExp += Double(expf(v - maxLogit)) }
        let logSumExp = Float(log(sumExp))

        let nll: Float = maxLogit + logSumExp - logits[token]
        sumNLL += Double(nll)
        sumNLL2 += Double(nll * nll)
        let nllBase: Float = -base.logProb(token)
        sumNLLBase += Double(nllBase)
        sumNLLBase2 += Double(nllBase * nllBase)
        sumNLLProduct += Double(nll * nllBase)

        let logNormalizer = maxLogit + logSumExp
        var kld = 0.0
        var topBase = -1
        var maxLogProbBase: Float = 0
        for i in 0..<logits.count {
            let logProbBase = base.logProb(i)
            if i == 0 || logProbBase > maxLogProbBase {
                maxLogProbBase = logProbBase
                topBase = i
            }
            // Base probabilities below e^-16 are left out, as the quantization clamps them.
            if logProbBase > -16 {
                let pBase = expf(logProbBase)
                kld += Double(pBase * (logProbBase - logits[i] + logNormalizer))
            }
        }
        sumKLD += kld
        sumKLD2 += kld * kld
        count += 1
        if top == topBase { sameTop += 1 }

        let pDiff = expf(-nll) - expf(-nllBase)
        sumPDiff += Double(pDiff)
        let pDiff2 = Double(pDiff * pDiff)
        sumPDiff2 += pDiff2
        sumPDiff4 += pDiff2 * pDiff2
        maxPDiff = max(maxPDiff, abs(pDiff))
        return (kld, pDiff)
    }

    /// perplexity.cpp `mean_and_uncertainty`: no uncertainty for 10 values or fewer.
    static func meanAndUncertainty(_ sum: Double, _ sum2: Double, _ count: Int) -> Estimate {
        guard count >= 1 else { return Estimate(0, 0) }
        let f = sum / Double(count)
        let df = sum2 / Double(count) - f * f
        return Estimate(f, df > 0 && count > 10 ? (df / Double(count - 1)).squareRoot() : 0)
    }

    /// perplexity.cpp `covariance` (of the means): 0 below 10 values.
    static func covariance(_ a: Double, _ b: Double, _ ab: Double, _ count: Int) -> Double {
        guard count >= 10 else { return 0 }
        let n = Double(count)
        return (ab / n - (a / n) * (b / n)) / (n - 1)
    }

    public var logPPL: Estimate { Self.meanAndUncertainty(sumNLL, sumNLL2, count) }
    public var logPPLBase: Estimate { Self.meanAndUncertainty(sumNLLBase, sumNLLBase2, count) }
    public var logPPLCovariance: Double { Self.covariance(sumNLL, sumNLLBase, sumNLLProduct, count) }
    public var ppl: Estimate { let l = logPPL; let v = exp(l.value); return Estimate(v, v * l.uncertainty) }
    public var pplBase: Estimate { let l = logPPLBase; let v = exp(l.value); return Estimate(v, v * l.uncertainty) }
    public var logPPLRatio: Estimate {
        let q = logPPL, b = logPPLBase
        // Clamped at 0 where rounding makes the variance slightly negative (a model against its own base): llama-perplexity prints nan there.
        return Estimate(q.value - b.value, max(0, q.uncertainty * q.uncertainty + b.uncertainty * b.uncertainty - 2 * logPPLCovariance).squareRoot())
    }
    public var kld: Estimate { Self.meanAndUncertainty(sumKLD, sumKLD2, count) }
    public var pDiff: Estimate { Self.meanAndUncertainty(sumPDiff, sumPDiff2, count) }
    public var rmsPDiff: Estimate {
        let mse = Self.meanAndUncertainty(sumPDiff2, sumPDiff4, count)
        let rms = mse.value.squareRoot()
        return Estimate(rms, 0.5 / rms * mse.uncertainty)
    }
    public var sameTopFraction: Estimate {
        let p = Double(sameTop) / Double(count)
        return Estimate(p, (p * (1 - p) / Double(count - 1)).squareRoot())
    }
}

/// The line llama-perplexity prints after each chunk: the running statistics so far.
public struct KLDivergenceChunkRow: Sendable, Codable, Equatable {
    public var chunk: Int
    public var ppl: Estimate
    public var logPPLRatio: Estimate
    public var kld: Estimate
    public var rmsPDiff: Estimate
    public var sameTop: Estimate

    public init(chunk: Int, sums: KLDivergenceSums) {
        self.chunk = chunk
        ppl = sums.ppl
        logPPLRatio = sums.logPPLRatio
        kld = sums.kld
        rmsPDiff = sums.rmsPDiff
        sameTop = sums.sameTopFraction
    }
}

/// One percentile of a sorted sample, labelled as llama-perplexity labels it ("99.9%", "Median").
public struct Percentile: Sendable, Codable, Equatable {
    public var label: String
    public var value: Double
}

/// llama-perplexity's closing statistics of a model scored against a base (`--kl-divergence`).
public struct KLDivergenceStatistics: Sendable, Codable, Equatable {
    public var chunks: Int
    public var contextLength: Int
    public var sums: KLDivergenceSums
    public var pplQ: Estimate
    public var pplBase: Estimate
    /// Correlation of the per-token ln(PPL(Q)) and ln(PPL(base)) means.
    public var logPPLCorrelation: Double
    public var logPPLRatio: Estimate
    public var pplRatio: Estimate
    public var pplDifference: Estimate
    public var kld: Estimate
    /// Maximum, 99.9%, 99.0%, 95.0%, 90.0%, Median, 10.0%, 5.0%, 1.0%, 0.1%, Minimum.
    public var kldPercentiles: [Percentile]
    public var pDiff: Estimate
    /// Maximum, 99.9%, 99.0%, 95.0%, 90.0%, 75.0%, Median, 25.0%, 10.0%, 5.0%, 1.0%, 0.1%, Minimum.
    public var pDiffPercentiles: [Percentile]
    public var rmsPDiff: Estimate
    public var sameTop: Estimate

    /// The statistics of `sums` and of every position's KLD and Δp (in any order), as perplexity.cpp's `kl_divergence` ends.
    public init(chunks: Int, contextLength: Int, sums: KLDivergenceSums, kld kldValues: [Float], pDiff pDiffValues: [Float]) {
        self.chunks = chunks
        self.contextLength = contextLength
        self.sums = sums
        pplQ = sums.ppl
        pplBase = sums.pplBase
        let cov = sums.logPPLCovariance
        logPPLCorrelation = cov / (sums.logPPL.uncertainty * sums.logPPLBase.uncertainty)
        logPPLRatio = sums.logPPLRatio
        let ratio = exp(logPPLRatio.value)
        pplRatio = Estimate(ratio, ratio * logPPLRatio.uncertainty)
        let pplCov = pplQ.value * pplBase.value * cov
        pplDifference = Estimate(pplQ.value - pplBase.value,
                                 max(0, pplQ.uncertainty * pplQ.uncertainty + pplBase.uncertainty * pplBase.uncertainty - 2 * pplCov).squareRoot())
        kld = sums.kld
        pDiff = sums.pDiff
        rmsPDiff = sums.rmsPDiff
        sameTop = sums.sameTopFraction
        let k = kldValues.sorted(), p = pDiffValues.sorted()
        kldPercentiles = Self.percentiles(k, [0.999, 0.990, 0.950, 0.900, nil, 0.100, 0.050, 0.010, 0.001])
        pDiffPercentiles = Self.percentiles(p, [0.999, 0.990, 0.950, 0.900, 0.750, nil, 0.250, 0.100, 0.050, 0.010, 0.001])
    }

    /// Maximum, the fractions (nil: the median), Minimum of `sorted`.
    static func percentiles(_ sorted: [Float], _ fractions: [Float?]) -> [Percentile] {
        guard !sorted.isEmpty else { return [] }
        var out = [Percentile(label: "Maximum", value: Double(sorted.last!))]
        for f in fractions {
            if let f {
                out.append(Percentile(label: String(format: "%4.1f%%", Double(f) * 100), value: Double(percentile(sorted, f))))
            } else {
                out.append(Percentile(label: "Median", value: Double(median(sorted))))
            }
        }
        out.append(Percentile(label: "Minimum", value: Double(sorted.first!)))
        return out
    }

    /// perplexity.cpp's median: the mean of the middle two of an even count, in f32.
    static func median(_ sorted: [Float]) -> Float {
        let n = sorted.count
        return n % 2 == 0 ? 0.5 * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2]
    }

    /// perplexity.cpp's `percentile`: linear interpolation at fraction·(n-1), in f32.
    static func percentile(_ sorted: [Float], _ fraction: Float) -> Float {
        if fraction <= 0 { return sorted.first! }
        if fraction >= 1 { return sorted.last! }
        var p = fraction * Float(sorted.count - 1)
        let ip = Int(p)
        p -= Float(ip)
        return (1 - p) * sorted[ip] + p * sorted[min(ip + 1, sorted.count - 1)]
    }
}
