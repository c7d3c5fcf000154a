import Engine
import Foundation
import Testing
@testable import Weigh

/// `feather perplexity --kl-divergence` prints llama-perplexity's lines (tools/perplexity/perplexity.cpp `kl_divergence`).
struct KLDivergenceReportTests {
    static func result() -> KLDivergenceResult {
        var sums = KLDivergenceSums()
        sums.sumNLL = 60; sums.sumNLL2 = 400; sums.sumNLLBase = 59; sums.sumNLLBase2 = 390; sums.sumNLLProduct = 394
        sums.sumKLD = 0.02; sums.sumKLD2 = 0.0001; sums.sumPDiff = 0.01; sums.sumPDiff2 = 0.004; sums.sumPDiff4 = 0.000003
        sums.sameTop = 19; sums.count = 20
        let kld: [Float] = (0..<20).map { Float($0) * 0.0001 }
        let pDiff: [Float] = (0..<20).map { Float($0 - 10) * 0.001 }
        let s = KLDivergenceStatistics(chunks: 2, contextLength: 22, sums: sums, kld: kld, pDiff: pDiff)
        return KLDivergenceResult(rows: [KLDivergenceChunkRow(chunk: 2, sums: sums)], statistics: s)
    }

    @Test func chunkRowsAlignUnderTheHeader() {
        let row = KLDivergenceReport.chunkRow(Self.result().rows[0])
        #expect(row.hasPrefix("   2      20.0855 ±   15.2828"))
        #expect(row.hasSuffix("95.000 ±  5.000 %"))
    }

    @Test func summaryHasLlamaPerplexitysLines() {
        let lines = KLDivergenceReport.summary(Self.result()).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let labels = lines.map { $0.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "" }
        #expect(labels == [
            "====== Perplexity statistics ======", "Mean PPL(Q)                   ", "Mean PPL(base)                ",
            "Cor(ln(PPL(Q)), ln(PPL(base)))", "Mean ln(PPL(Q)/PPL(base))     ", "Mean PPL(Q)/PPL(base)         ",
            "Mean PPL(Q)-PPL(base)         ", "", "====== KL divergence statistics ======", "Mean    KLD", "Maximum KLD", "99.9%   KLD",
            "99.0%   KLD", "95.0%   KLD", "90.0%   KLD", "Median  KLD", "10.0%   KLD", " 5.0%   KLD", " 1.0%   KLD", " 0.1%   KLD",
            "Minimum KLD", "", "====== Token probability statistics ======", "Mean    Δp", "Maximum Δp", "99.9%   Δp", "99.0%   Δp",
            "95.0%   Δp", "90.0%   Δp", "75.0%   Δp", "Median  Δp", "25.0%   Δp", "10.0%   Δp", " 5.0%   Δp", " 1.0%   Δp", " 0.1%   Δp",
            "Minimum Δp", "RMS Δp    ", "Same top p",
        ])
        #expect(lines.contains("Maximum KLD:   0.001900"))
        #expect(lines.contains("Median  KLD:   0.000950"))
        #expect(lines.contains("Minimum Δp: -1.000%"))
        #expect(lines.contains("Mean PPL(Q)                   :  20.085537 ±  15.282802"))
    }
}
