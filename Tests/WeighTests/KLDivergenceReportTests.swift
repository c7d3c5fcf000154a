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

    /// llama-perplexity's own lines (Tests/Fixtures/kld/llama-on-feather-128.txt, scripts/oracle/kld_fixtures.sh), their
    /// numbers put back into a result: rendered again they are the same text, character for character.
    @Test func llamaPerplexitysLinesRenderedAgain() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/kld/llama-on-feather-128.txt").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        func numbers(_ line: String) -> [Double] {
            line.split(separator: ":", maxSplits: 1).last!.split(separator: " ")
                .compactMap { Double($0.replacingOccurrences(of: "%", with: "")) }
        }
        func estimate(_ v: [Double], _ scale: Double = 1) -> Estimate { Estimate(v[0] / scale, v.count > 1 ? v[1] / scale : 0) }
        var rows: [String] = []
        for line in lines {
            let f = line.split(separator: " ").filter { $0 != "±" && $0 != "%" }.compactMap { Double($0) }
            guard f.count == 11, line.hasPrefix("   ") else { continue }
            var row = KLDivergenceChunkRow(chunk: Int(f[0]), sums: KLDivergenceSums())
            row.ppl = Estimate(f[1], f[2]); row.logPPLRatio = Estimate(f[3], f[4]); row.kld = Estimate(f[5], f[6])
            row.rmsPDiff = Estimate(f[7] / 100, f[8] / 100); row.sameTop = Estimate(f[9] / 100, f[10] / 100)
            #expect(KLDivergenceReport.chunkRow(row) == line)
            rows.append(line)
        }
        #expect(rows.count == 2)
        var r = Self.result()
        func value(_ label: String) throws -> [Double] { numbers(try #require(lines.first { $0.hasPrefix(label) }, "\(label)")) }
        var s = r.statistics
        s.pplQ = estimate(try value("Mean PPL(Q) ")); s.pplBase = estimate(try value("Mean PPL(base)"))
        s.logPPLCorrelation = try value("Cor(")[0] / 100
        s.logPPLRatio = estimate(try value("Mean ln(")); s.pplRatio = estimate(try value("Mean PPL(Q)/"))
        s.pplDifference = estimate(try value("Mean PPL(Q)-")); s.kld = estimate(try value("Mean    KLD"))
        s.pDiff = estimate(try value("Mean    Δp"), 100); s.rmsPDiff = estimate(try value("RMS Δp"), 100)
        s.sameTop = estimate(try value("Same top p"), 100)
        let kldLines = lines.filter { $0.contains("KLD:") && !$0.hasPrefix("Mean") }
        let pDiffLines = lines.filter { $0.contains("Δp:") && !$0.hasPrefix("Mean") }
        try #require(kldLines.count == s.kldPercentiles.count && pDiffLines.count == s.pDiffPercentiles.count)
        for i in s.kldPercentiles.indices { s.kldPercentiles[i].value = numbers(kldLines[i])[0] }
        for i in s.pDiffPercentiles.indices { s.pDiffPercentiles[i].value = numbers(pDiffLines[i])[0] / 100 }
        r.statistics = s
        let ours = KLDivergenceReport.summary(r).split(separator: "\n").map(String.init)
        #expect(ours == lines.filter { !rows.contains($0) })
    }
}
