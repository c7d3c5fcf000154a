import Engine
import Foundation

/// `feather perplexity --kl-divergence` in llama-perplexity's layout (tools/perplexity/perplexity.cpp
/// `kl_divergence`): a row per chunk, then the perplexity, KL-divergence and token-probability statistics.
public enum KLDivergenceReport {
    public static let chunkHeader =
        "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p"

    public static func chunkRow(_ r: KLDivergenceChunkRow) -> String {
        String(format: "%4d", r.chunk)
            + String(format: "    %9.4f ± %9.4f", r.ppl.value, r.ppl.uncertainty)
            + String(format: "    %10.5f ± %10.5f", r.logPPLRatio.value, r.logPPLRatio.uncertainty)
            + String(format: "    %10.5f ± %10.5f", r.kld.value, r.kld.uncertainty)
            + String(format: "    %6.3f ± %6.3f %%", 100 * r.rmsPDiff.value, 100 * r.rmsPDiff.uncertainty)
            + String(format: "    %6.3f ± %6.3f %%", 100 * r.sameTop.value, 100 * r.sameTop.uncertainty)
    }

    /// The closing statistics. llama-perplexity prints them only from 100 scored tokens on; they are printed
    /// here for any count, with uncertainties of 0 below 11 tokens as its formulas give.
    public static func summary(_ result: KLDivergenceResult) -> String {
        let s = result.statistics
        var lines = ["====== Perplexity statistics ======"]
        lines.append(String(format: "Mean PPL(Q)                   : %10.6f ± %10.6f", s.pplQ.value, s.pplQ.uncertainty))
        lines.append(String(format: "Mean PPL(base)                : %10.6f ± %10.6f", s.pplBase.value, s.pplBase.uncertainty))
        lines.append(String(format: "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%", 100 * s.logPPLCorrelation))
        lines.append(String(format: "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f", s.logPPLRatio.value, s.logPPLRatio.uncertainty))
        lines.append(String(format: "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f", s.pplRatio.value, s.pplRatio.uncertainty))
        lines.append(String(format: "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f", s.pplDifference.value, s.pplDifference.uncertainty))
        lines.append("")
        lines.append("====== KL divergence statistics ======")
        lines.append(String(format: "Mean    KLD: %10.6f ± %10.6f", s.kld.value, s.kld.uncertainty))
        for p in s.kldPercentiles { lines.append(label(p.label, "KLD") + String(format: " %10.6f", p.value)) }
        lines.append("")
        lines.append("====== Token probability statistics ======")
        lines.append(String(format: "Mean    Δp: %6.3f ± %5.3f %%", 100 * s.pDiff.value, 100 * s.pDiff.uncertainty))
        for p in s.pDiffPercentiles { lines.append(label(p.label, "Δp") + String(format: " %6.3f%%", 100 * p.value)) }
        lines.append(String(format: "RMS Δp    : %6.3f ± %5.3f %%", 100 * s.rmsPDiff.value, 100 * s.rmsPDiff.uncertainty))
        lines.append(String(format: "Same top p: %6.3f ± %5.3f %%", 100 * s.sameTop.value, 100 * s.sameTop.uncertainty))
        return lines.joined(separator: "\n")
    }

    /// "Maximum KLD:", "99.9%   KLD:", "Median  KLD:", " 1.0%   Δp:".
    static func label(_ name: String, _ quantity: String) -> String {
        let head = name.hasSuffix("%") ? name + "   " : (name == "Median" ? "Median  " : name + " ")
        return head + quantity + ":"
    }
}
