import Foundation

/// Text shared by every rendering of a `ComparisonResult`.
public enum CompareText {
    /// "A", "B", "no significant difference (p=0.31)", with the p-value or "exact" for derived rows.
    public static func outcome(_ row: Row, modelCount: Int) -> String {
        guard !row.outcomes.isEmpty else { return row.kind == .fact ? "" : "—" }
        func one(_ o: PairOutcome) -> String {
            let p = o.pValue.map { "p=\(Comparison.formatP($0))" + (o.resolution.map { "; " + $0 } ?? "") }
            if let w = o.winner { return ComparisonResult.letter(w) + (p.map { " (\($0))" } ?? (o.method == "derived" ? " (exact)" : "")) }
            if o.method == "derived" { return "equal" }
            if let p { return "no significant difference (\(p))" }
            return "not compared: \(o.detail)"
        }
        if modelCount == 2, let o = row.outcomes.first { return one(o) }
        return row.outcomes.map { o in "\(ComparisonResult.letter(o.a)) vs \(ComparisonResult.letter(o.b)): \(one(o))" }.joined(separator: "; ")
    }

    public static func modelLegend(_ r: ComparisonResult) -> [String] {
        r.models.enumerated().map { i, m in "\(ComparisonResult.letter(i)) = \(m.displayName) (\(m.label), \(m.source.kindName))" }
    }

    /// Rows that could not be filled and why, grouped by reason: "A, B: needs weights or an endpoint — mmlu, wiki-bpb".
    public static func missingSummary(_ r: ComparisonResult) -> [String] {
        var order: [String] = []
        var letters: [String: [String]] = [:]
        var rows: [String: [String]] = [:]
        for s in r.sections {
            for row in s.rows {
                for (i, c) in row.cells.enumerated() {
                    guard let why = c.missing else { continue }
                    if letters[why] == nil { order.append(why); letters[why] = []; rows[why] = [] }
                    let letter = ComparisonResult.letter(i)
                    if !letters[why, default: []].contains(letter) { letters[why, default: []].append(letter) }
                    if !rows[why, default: []].contains(row.label) { rows[why, default: []].append(row.label) }
                }
            }
        }
        return order.map { "\(letters[$0]!.sorted().joined(separator: ", ")): \($0) — \(rows[$0]!.joined(separator: ", "))" }
    }

    public static let methods = [
        "accuracy tasks: McNemar's exact test on the items both models answered (two-sided binomial on the discordant pairs)",
        "bits per byte and scores: paired bootstrap over items (10,000 resamples, seeded), two-sided; with fewer than 10 paired items "
            + "the exact paired permutation (sign-flip) test instead, whose smallest p is 2/2ⁿ",
        "quality rows print the smallest difference their test detects with 80% power at α over their items "
            + "((z₁₋α/₂ + z₀.₈) × the standard error of the paired difference; for McNemar never below the fewest discordant items "
            + "that can reach α), so \"no significant difference\" reads with its resolution",
        "measured speed: Welch's t-test on the per-repetition tokens/s",
        "derived rows (memory, speed of light, context) are exact consequences of the configuration: the better value wins outright",
        "a difference counts when p < α; verdicts use only those rows",
    ]
}

/// The terminal table; ANSI colours only when asked (stdout is a terminal and NO_COLOR is unset).
public enum TerminalReport {
    public static func render(_ r: ComparisonResult, color: Bool) -> String {
        func c(_ s: String, _ code: String) -> String { color && !s.isEmpty ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        var out: [String] = []
        out.append(c("feather compare", "1") + ": " + CompareText.modelLegend(r).joined(separator: "; "))
        out.append("workload \(r.settings.workload); context \(r.settings.contextLength); catalog models at \(r.settings.quant); α = \(Format.number(r.settings.alpha))")
        let n = r.models.count
        for s in r.sections where !s.rows.isEmpty {
            out.append("")
            var table = TextTable(header: [s.title] + (0..<n).map { ComparisonResult.letter($0) } + ["better"])
            var kinds: [[Bool]] = []
            for row in s.rows {
                table.rows.append(["  " + row.label] + row.cells.map(\.text) + [CompareText.outcome(row, modelCount: n)])
                kinds.append(row.cells.map { $0.missing != nil })
            }
            out.append(table.render { text, rowIndex, col in
                if rowIndex < 0 { return c(text, "1") }
                if col >= 1 && col <= n && kinds[rowIndex][col - 1] { return c(text, "2") }
                if col == n + 1 {
                    let t = text.trimmingCharacters(in: .whitespaces)
                    if t.hasPrefix("no significant") { return c(text, "33") }
                    if t.count >= 1 && t.first!.isUppercase && !t.hasPrefix("A vs") { return c(text, "32") }
                }
                return text
            })
        }
        out.append("")
        out.append(c("Verdict", "1"))
        for v in r.verdicts { out.append("  \(v.use): " + (v.winner != nil ? c(v.text, "32") : v.text)) }
        let missing = CompareText.missingSummary(r)
        if !missing.isEmpty {
            out.append("")
            out.append(c("Rows without a value", "1"))
            out += missing.map { "  " + $0 }
        }
        if !r.notes.isEmpty {
            out.append("")
            out += r.notes.map { "note: " + $0 }
        }
        return out.joined(separator: "\n")
    }
}

/// report.md: the same tables in GitHub Markdown, with the methods and the hardware used.
public enum MarkdownReport {
    static func esc(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }

    public static func render(_ r: ComparisonResult) -> String {
        let n = r.models.count
        var out = ["# feather compare", ""]
        out += CompareText.modelLegend(r).map { "- **\($0.prefix(1))**\($0.dropFirst())" }
        out += ["", "Workload: \(r.settings.workload). Context: \(r.settings.contextLength) tokens, \(r.settings.kvType.rawValue.uppercased()) KV cache. "
                + "Catalog models at \(r.settings.quant). α = \(Format.number(r.settings.alpha)). Created \(r.createdAt).", ""]
        for s in r.sections where !s.rows.isEmpty {
            out.append("## \(s.title)")
            out.append("")
            out.append("| | " + (0..<n).map { ComparisonResult.letter($0) }.joined(separator: " | ") + " | better |")
            out.append("|---|" + String(repeating: "---|", count: n) + "---|")
            for row in s.rows {
                out.append("| \(esc(row.label)) | " + row.cells.map { esc($0.text) }.joined(separator: " | ")
                           + " | \(esc(CompareText.outcome(row, modelCount: n))) |")
            }
            out.append("")
        }
        out.append("## Verdict")
        out.append("")
        out += r.verdicts.map { "- **\($0.use)**: \(esc($0.text))" }
        let missing = CompareText.missingSummary(r)
        if !missing.isEmpty {
            out += ["", "## Rows without a value", ""] + missing.map { "- \($0)" }
        }
        out += ["", "## Hardware", ""] + FitReport.hardwareLines(r.hardware).map { "- " + $0.trimmingCharacters(in: .whitespaces) }
        out += ["", "## Methods", ""] + CompareText.methods.map { "- " + $0 } + FitReport.formulas.map { "- " + $0.trimmingCharacters(in: .whitespaces) }
        if !r.notes.isEmpty { out += ["", "## Notes", ""] + r.notes.map { "- " + $0 } }
        out.append("")
        out.append("Command: `\(r.command.joined(separator: " "))`")
        return out.joined(separator: "\n") + "\n"
    }
}

public enum JSONReport {
    public static func render(_ r: ComparisonResult) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(r), as: UTF8.self) + "\n"
    }

    public static func decode(_ data: Data) throws -> ComparisonResult {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(ComparisonResult.self, from: data)
    }
}
