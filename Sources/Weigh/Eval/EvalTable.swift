import Foundation

extension EvalReport {
    /// The console table: task, metric, value ± stderr, n.
    public func table() -> String {
        var rows: [[String]] = [["task", "metric", "value", "± stderr", "n"]]
        for t in tasks {
            for m in t.metrics {
                rows.append([t.task, m.name, Self.format(m.value), m.stderr.map { "± " + Self.format($0) } ?? "", String(m.n)])
            }
        }
        let widths = (0..<5).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var lines: [String] = []
        for (i, r) in rows.enumerated() {
            let cells = r.enumerated().map { c, v in c >= 2 ? String(repeating: " ", count: widths[c] - v.count) + v : v.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            lines.append(cells.joined(separator: "  "))
            if i == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        return abs(v) >= 1000 ? String(format: "%.1f", v) : String(format: "%.4f", v)
    }
}
