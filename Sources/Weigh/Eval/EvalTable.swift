import Foundation

extension EvalReport {
    /// The console table: task, metric, value ± stderr, n, and on a task's first row the compute
    /// time of its items (earlier runs of a resumed eval included).
    public func table() -> String {
        var rows: [[String]] = [["task", "metric", "value", "± stderr", "n", "time"]]
        for t in tasks {
            for (i, m) in t.metrics.enumerated() {
                rows.append([t.task, m.name, Self.format(m.value), m.stderr.map { "± " + Self.format($0) } ?? "", String(m.n),
                             i == 0 ? Self.duration(t.itemSeconds ?? t.wallSeconds) : ""])
            }
        }
        let widths = (0..<6).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var lines: [String] = []
        for (i, r) in rows.enumerated() {
            let cells = r.enumerated().map { c, v in c >= 2 ? String(repeating: " ", count: widths[c] - v.count) + v : v.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            lines.append(cells.joined(separator: "  "))
            if i == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let m = Int(s.rounded()) / 60
        return m < 60 ? String(format: "%dm%02ds", m, Int(s.rounded()) % 60) : String(format: "%dh%02dm", m / 60, m % 60)
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        return abs(v) >= 1000 ? String(format: "%.1f", v) : String(format: "%.4f", v)
    }
}
