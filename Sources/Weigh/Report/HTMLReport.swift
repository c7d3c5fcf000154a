import Foundation

/// report.html: one self-contained page (inline CSS and SVG, no scripts, no external URLs) with the
/// comparison tables and three kinds of chart: speed bars, scores with 95% error bars, and memory
/// against context with each machine's usable memory.
public enum HTMLReport {
    static let palette = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777"]

    public static func esc(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func num(_ v: Double) -> String { Format.fixed(v, 1) }

    public static func render(_ r: ComparisonResult) -> String {
        let n = r.models.count
        var body: [String] = []
        body.append("<header><h1>feather compare</h1><ul class=\"legend\">")
        for (i, m) in r.models.enumerated() {
            body.append("<li><span class=\"swatch\" style=\"background:\(palette[i % palette.count])\"></span><b>\(ComparisonResult.letter(i))</b> "
                        + "\(esc(m.displayName)) <small>(\(esc(m.label)), \(esc(m.source.kindName)))</small></li>")
        }
        body.append("</ul><p class=\"meta\">Workload \(esc(r.settings.workload)); context \(r.settings.contextLength) tokens; "
                    + "catalog models at \(esc(r.settings.quant)); α = \(Format.number(r.settings.alpha)); \(esc(r.createdAt))</p></header>")

        body.append("<section id=\"verdict\"><h2>Verdict</h2><dl>")
        for v in r.verdicts {
            body.append("<dt>\(esc(v.use))</dt><dd class=\"\(v.winner != nil ? "win" : "none")\">\(esc(v.text))</dd>")
        }
        body.append("</dl></section>")

        body.append("<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">")
        body += speedCharts(r)
        body += scoreCharts(r)
        if let mem = memoryChart(r) { body.append(mem) }
        body.append("</div></section>")

        for (k, s) in r.sections.enumerated() where !s.rows.isEmpty {
            body.append("<section><h2>\(esc(s.title))</h2><table id=\"table-\(k)\"><thead><tr><th></th>")
            for i in 0..<n { body.append("<th>\(ComparisonResult.letter(i))</th>") }
            body.append("<th>better</th></tr></thead><tbody>")
            for row in s.rows {
                var tr = "<tr class=\"\(row.kind.rawValue)\"><th scope=\"row\">\(esc(row.label))</th>"
                for c in row.cells {
                    tr += c.missing != nil ? "<td class=\"missing\" title=\"\(esc(c.missing!))\">\(esc(c.text)) <small>\(esc(c.missing!))</small></td>"
                        : "<td>\(esc(c.text))</td>"
                }
                let outcome = CompareText.outcome(row, modelCount: n)
                let cls = row.outcomes.contains { $0.winner != nil } ? "win" : ""
                let detail = row.outcomes.map { "\($0.method): \($0.detail)" }.joined(separator: "; ")
                tr += "<td class=\"\(cls)\" title=\"\(esc(detail))\">\(esc(outcome))</td></tr>"
                body.append(tr)
            }
            body.append("</tbody></table></section>")
        }
        let missing = CompareText.missingSummary(r)
        if !missing.isEmpty {
            body.append("<section><h2>Rows without a value</h2><ul>" + missing.map { "<li>\(esc($0))</li>" }.joined() + "</ul></section>")
        }
        body.append("<section><h2>Hardware</h2><ul>" + FitReport.hardwareLines(r.hardware).map { "<li>\(esc($0))</li>" }.joined() + "</ul></section>")
        body.append("<section><h2>Methods</h2><ul>" + (CompareText.methods + FitReport.formulas).map { "<li>\(esc($0))</li>" }.joined() + "</ul></section>")
        if !r.notes.isEmpty { body.append("<section><h2>Notes</h2><ul>" + r.notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul></section>") }
        body.append("<footer><code>\(esc(r.command.joined(separator: " ")))</code></footer>")

        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>feather compare: \(esc(r.models.map(\.displayName).joined(separator: " vs ")))</title>
            <style>\(css)</style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }

    static let css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#111827;background:#fff}
        h1{font-size:24px;margin:8px 0}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
        .legend{list-style:none;padding:0;margin:0}.legend li{margin:2px 0}.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
        .meta,small{color:#6b7280}table{border-collapse:collapse;width:100%;margin:4px 0}th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
        thead th{background:#f9fafb}tbody th{font-weight:500;width:24%}td.missing{color:#9ca3af}td.win{color:#047857;font-weight:600}
        tr.measured th::after{content:" ●";color:#2563eb;font-size:10px}tr.derived th::after{content:" ◆";color:#9ca3af;font-size:10px}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{font-weight:600}dd{margin:0}dd.win{color:#047857}dd.none{color:#6b7280}
        .charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:8px}figcaption{font-weight:600;margin-bottom:4px}
        svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#374151}footer{margin-top:24px;color:#6b7280}
        """

    // MARK: Charts

    /// Horizontal grouped bars: one group per category, one bar per model, optional ± error.
    static func barChart(id: String, title: String, unit: String, categories: [String], values: [[Double?]], errors: [[Double?]],
                         models: Int, note: String) -> String {
        let barH = 14.0, gap = 10.0, left = 230.0, width = 560.0, plotW = width - left - 60
        let groupH = Double(models) * barH + gap
        let height = 30 + Double(categories.count) * groupH + 24
        let maxV = zip(values.joined(), errors.joined()).compactMap { v, e in v.map { $0 + (e ?? 0) } }.max() ?? 1
        let scale = maxV > 0 ? plotW / (maxV * 1.05) : 1
        var s = "<figure id=\"\(id)\"><figcaption>\(esc(title))</figcaption><svg role=\"img\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        s += "<line x1=\"\(left)\" y1=\"20\" x2=\"\(left)\" y2=\"\(height - 24)\" stroke=\"#9ca3af\"/>"
        for (ci, cat) in categories.enumerated() {
            let y0 = 24 + Double(ci) * groupH
            s += "<text x=\"\(left - 6)\" y=\"\(num(y0 + Double(models) * barH / 2 + 4))\" text-anchor=\"end\">\(esc(cat))</text>"
            for m in 0..<models {
                let y = y0 + Double(m) * barH
                guard let v = values[ci][m] else {
                    s += "<text x=\"\(left + 4)\" y=\"\(num(y + barH - 3))\" fill=\"#9ca3af\">\(ComparisonResult.letter(m)): not measured</text>"
                    continue
                }
                let w = max(1, v * scale)
                s += "<rect class=\"bar\" x=\"\(left)\" y=\"\(num(y))\" width=\"\(num(w))\" height=\"\(num(barH - 2))\" fill=\"\(palette[m % palette.count])\"><title>\(ComparisonResult.letter(m)): \(Format.fixed(v, 3)) \(esc(unit))</title></rect>"
                var labelX = left + w + 4
                if let e = errors[ci][m], e > 0 {
                    let lo = left + max(0, v - e) * scale, hi = left + (v + e) * scale, cy = y + (barH - 2) / 2
                    s += "<path class=\"errorbar\" d=\"M\(num(lo)) \(num(cy))H\(num(hi))M\(num(lo)) \(num(cy - 4))V\(num(cy + 4))M\(num(hi)) \(num(cy - 4))V\(num(cy + 4))\" stroke=\"#111827\" fill=\"none\"/>"
                    labelX = hi + 4
                }
                s += "<text x=\"\(num(labelX))\" y=\"\(num(y + barH - 3))\">\(ComparisonResult.letter(m)) \(FitReport.rate(v))</text>"
            }
        }
        s += "<text x=\"\(left)\" y=\"\(num(height - 6))\">\(esc(unit)) — \(esc(note))</text></svg></figure>"
        return s
    }

    static func speedCharts(_ r: ComparisonResult) -> [String] {
        var charts: [String] = []
        let n = r.models.count
        if r.models.contains(where: { $0.speed != nil }) {
            let values: [[Double?]] = [r.models.map { $0.speed?.prefillMean }, r.models.map { $0.speed?.decodeMean }]
            let errors: [[Double?]] = [r.models.map { $0.speed?.prefillSD }, r.models.map { $0.speed?.decodeSD }]
            charts.append(barChart(id: "chart-speed-measured", title: "Measured speed on this machine", unit: "tokens/s",
                                   categories: ["prefill", "decode"], values: values, errors: errors, models: n,
                                   note: "mean ± sd over repetitions"))
        }
        let hw = r.hardware
        if !hw.isEmpty {
            let values: [[Double?]] = hw.map { h in r.models.map { m in Comparison.firstFit(m, hardware: h.id)?.decodeTokensPerSecondUpperBound } }
            charts.append(barChart(id: "chart-speed-bound", title: "Decode speed of light at \(r.settings.contextLength) tokens",
                                   unit: "tokens/s", categories: hw.map(\.id), values: values,
                                   errors: values.map { $0.map { _ in nil } }, models: n, note: "bandwidth / bytes read per token (upper bound)"))
        }
        return charts
    }

    static func scoreCharts(_ r: ComparisonResult) -> [String] {
        let n = r.models.count
        var tasks: [String] = []
        for m in r.models { for t in m.tasks where !tasks.contains(t.task) { tasks.append(t.task) } }
        guard !tasks.isEmpty else { return [] }
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for t in tasks {
            let ref = r.models.lazy.compactMap { $0.tasks.first { $0.task == t } }.first!
            let key = ref.kind == .accuracy ? "accuracy (%)" : "\(ref.metric) (\(ref.higherIsBetter ? "higher" : "lower") is better)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(t)
        }
        return order.enumerated().map { gi, key in
            let ts = groups[key]!
            let scale = key.hasPrefix("accuracy") ? 100.0 : 1.0
            let values: [[Double?]] = ts.map { t in r.models.map { m in m.tasks.first { $0.task == t }.map { $0.value * scale } } }
            let errors: [[Double?]] = ts.map { t in r.models.map { m in m.tasks.first { $0.task == t }?.stderr.map { $0 * 1.96 * scale } } }
            return barChart(id: "chart-scores-\(gi)", title: "Scores: \(key)", unit: key.hasPrefix("accuracy") ? "%" : "value",
                            categories: ts, values: values, errors: errors, models: n, note: "error bars: 95% (±1.96 standard errors)")
        }
    }

    /// Memory (weights + KV + compute) against context on a log-2 axis, one line per model, with a dashed line
    /// per machine at the memory a model may use there (usable minus runtime overhead).
    static func memoryChart(_ r: ComparisonResult) -> String? {
        guard !r.memoryCurves.isEmpty else { return nil }
        let width = 560.0, height = 320.0, left = 56.0, right = 150.0, top = 16.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxCtx = Double(r.memoryCurves.flatMap(\.points).map(\.context).max() ?? 1024)
        let minCtx = 512.0
        let capacities = r.hardware.map { (id: $0.id, bytes: Double($0.usableBytes - $0.runtimeOverheadBytes)) }
        let maxCurve = Double(r.memoryCurves.flatMap(\.points).map(\.bytes).max() ?? 1)
        let maxY = max(maxCurve, capacities.map(\.bytes).filter { $0 < 2.5 * maxCurve }.max() ?? 0) * 1.08 / Double(1 << 30)
        func x(_ ctx: Double) -> Double { left + (log2(max(ctx, minCtx)) - log2(minCtx)) / (log2(maxCtx) - log2(minCtx)) * plotW }
        func y(_ bytes: Double) -> Double { top + plotH - bytes / Double(1 << 30) / maxY * plotH }
        var s = "<figure id=\"chart-memory\"><figcaption>Memory against context (\(esc(r.settings.kvType.rawValue.uppercased())) KV cache)</figcaption>"
        s += "<svg role=\"img\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#d1d5db\"/>"
        var tick = minCtx
        while tick <= maxCtx {
            let label = tick >= 1024 ? "\(Int(tick) / 1024)k" : "\(Int(tick))"
            s += "<line x1=\"\(num(x(tick)))\" y1=\"\(top + plotH)\" x2=\"\(num(x(tick)))\" y2=\"\(top + plotH + 4)\" stroke=\"#6b7280\"/>"
            s += "<text x=\"\(num(x(tick)))\" y=\"\(num(top + plotH + 16))\" text-anchor=\"middle\">\(label)</text>"
            tick *= 2
        }
        let step = niceStep(maxY / 5)
        var k = 0
        while Double(k) * step <= maxY {
            // k × step rounded to 9 digits: repeated addition gave labels like 0.6000000000000001.
            let g = (Double(k) * step * 1e9).rounded() / 1e9
            k += 1
            s += "<line x1=\"\(left)\" y1=\"\(num(y(g * Double(1 << 30))))\" x2=\"\(left + plotW)\" y2=\"\(num(y(g * Double(1 << 30))))\" stroke=\"#f3f4f6\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(num(y(g * Double(1 << 30)) + 4))\" text-anchor=\"end\">\(Format.number(g))</text>"
        }
        s += "<text x=\"\(num(left + plotW / 2))\" y=\"\(num(height - 6))\" text-anchor=\"middle\">context (tokens, log scale)</text>"
        s += "<text x=\"14\" y=\"\(num(top + plotH / 2))\" transform=\"rotate(-90 14 \(num(top + plotH / 2)))\" text-anchor=\"middle\">GiB</text>"
        for (i, c) in capacities.enumerated() where c.bytes / Double(1 << 30) <= maxY {
            let yy = y(c.bytes)
            s += "<line class=\"capacity\" x1=\"\(left)\" y1=\"\(num(yy))\" x2=\"\(left + plotW)\" y2=\"\(num(yy))\" stroke=\"#6b7280\" stroke-dasharray=\"4 3\"/>"
            s += "<text x=\"\(left + plotW + 4)\" y=\"\(num(yy + 4 + Double(i % 2) * 0))\">\(esc(c.id)) \(Format.fixed(c.bytes / Double(1 << 30), 1))</text>"
        }
        for c in r.memoryCurves {
            let pts = c.points.filter { Double($0.context) >= minCtx || $0.context == 0 }
                .map { "\(num(x(Double(max($0.context, Int(minCtx)))))),\(num(y(Double($0.bytes))))" }.joined(separator: " ")
            let color = palette[c.model % palette.count]
            s += "<polyline class=\"curve\" points=\"\(pts)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"><title>\(ComparisonResult.letter(c.model)) (\(esc(c.quant)))</title></polyline>"
            if let last = c.points.last {
                s += "<text x=\"\(num(x(Double(last.context)) - 4))\" y=\"\(num(y(Double(last.bytes)) - 6))\" text-anchor=\"end\" fill=\"\(color)\">\(ComparisonResult.letter(c.model))</text>"
            }
        }
        let above = capacities.filter { $0.bytes / Double(1 << 30) > maxY }
        let aboveNote = above.isEmpty ? "" : "; above the chart: " + above.map { "\($0.id) \(Format.fixed($0.bytes / Double(1 << 30), 1)) GiB" }.joined(separator: ", ")
        s += "</svg><div><small>lines: weights + KV cache + compute buffer per model; dashed: memory a model may use on each machine (usable − runtime overhead)\(esc(aboveNote))</small></div></figure>"
        return s
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        let p = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where raw <= m * p { return m * p }
        return 10 * p
    }
}
