/// Renders inspections as a plain-text table, one column per model.
public enum InspectionReport {
    /// Label and value rows; the quantization mix takes `quantRows` rows (padded with empty values).
    /// `weightsRow`: say whether the weights are synthetic (on by default for a synthetic file; a table turns it on
    /// for every column when one is).
    public static func rows(_ m: ModelInspection, quantRows: Int = 0, weightsRow: Bool? = nil) -> [(String, String)] {
        func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "—" }
        let quant = m.quantization.map { "\($0.type): \($0.tensors) tensors, \(Format.bytes($0.bytes))" }
        var rows: [(String, String)] = [
            ("file", m.path),
            ("file size", Format.bytes(m.fileSize)),
            ("GGUF version", "\(m.ggufVersion)"),
            ("architecture", opt(m.architecture)),
            ("name", opt(m.name)),
        ]
        if weightsRow ?? (m.synthetic != nil) { rows.append(("weights", m.synthetic.map(syntheticText) ?? "the file's own")) }
        rows += [
            ("size label", opt(m.sizeLabel)),
            ("licence", opt(m.license)),
            ("parameters", "\(Format.count(m.parameterCount)) (\(m.parameterCount))"),
            ("file type", opt(m.fileType)),
        ]
        let padded = quant + Array(repeating: "", count: max(0, quantRows - quant.count))
        rows += padded.enumerated().map { (i, s) in (i == 0 ? "quantization" : "", s) }
        rows += [
            ("context length", opt(m.contextLength)),
            ("layers", opt(m.layers)),
            ("embedding width", opt(m.embeddingWidth)),
            ("heads / KV heads", m.heads.map { "\($0) / \(opt(m.kvHeads))" } ?? "—"),
            ("head dim", opt(m.headDim)),
            ("FFN width", opt(m.ffnWidth)),
            ("vocabulary", opt(m.vocabSize)),
            ("tokenizer", "\(opt(m.tokenizerModel)) (pre: \(opt(m.tokenizerPre)))"),
            ("RoPE base", ropeText(m)),
            ("sliding window", slidingText(m)),
            ("chat template", m.hasChatTemplate ? "the model's own" : "none; \(m.chatTemplate) used"),
            ("modalities", m.modalities.joined(separator: ", ") + " (this file)"),
        ]
        rows.append(("KV cache / token (F16)", m.kvCache.map { kvPerTokenText($0, window: m.slidingWindow) } ?? "—"))
        rows.append(("KV cache at context (F16)", m.kvCache.map {
            "\(Format.bytes($0.bytesAtContextLength)) (all layers full: \(Format.bytes($0.naiveBytesAtContextLength)))"
        } ?? "—"))
        rows.append(("unsupported types", m.unsupportedTypes.isEmpty ? "none" : m.unsupportedTypes.joined(separator: ", ")))
        if let e = m.configError { rows.append(("note", e)) }
        return rows
    }

    /// "synthetic weights: speed and memory only (gemma-3-27b, 2 of 62 blocks, seed 1)".
    public static func syntheticText(_ mark: SyntheticMark) -> String {
        var parts = [mark.source ?? "unknown source"]
        if let of = mark.layersOf { parts.append("truncated from \(of) blocks") }
        if let seed = mark.seed { parts.append("seed \(seed)") }
        return ModelSynthesizer.label + " (" + parts.joined(separator: ", ") + ")"
    }

    static func ropeText(_ m: ModelInspection) -> String {
        guard let base = m.ropeBase else { return "—" }
        var s = Format.number(base)
        if let t = m.ropeScalingType, t != "none" { s += " (\(t) scaling × \(Format.number(m.ropeScalingFactor ?? 1)))" }
        if let local = m.ropeBaseLocal { s += " global, \(Format.number(local)) local" }
        return s
    }

    static func slidingText(_ m: ModelInspection) -> String {
        guard let w = m.slidingWindow, let layers = m.layers else { return "none" }
        return "\(w) tokens on \(m.slidingWindowLayers.count) of \(layers) layers (global: \(globalLayers(m, layers: layers)))"
    }

    static func globalLayers(_ m: ModelInspection, layers: Int) -> String {
        let sliding = Set(m.slidingWindowLayers)
        let global = (0..<layers).filter { !sliding.contains($0) }
        return global.isEmpty ? "none" : global.map(String.init).joined(separator: ", ")
    }

    static func kvPerTokenText(_ kv: ModelInspection.KVCache, window: Int?) -> String {
        guard kv.bytesPerTokenSlidingLayers > 0, let window else { return Format.bytes(kv.bytesPerTokenGlobalLayers) }
        return "\(Format.bytes(kv.bytesPerTokenGlobalLayers)) global + \(Format.bytes(kv.bytesPerTokenSlidingLayers)) sliding (up to \(window) tokens)"
    }

    /// One column per model; long rows are not wrapped.
    public static func table(_ models: [ModelInspection]) -> String {
        let quantRows = models.map(\.quantization.count).max() ?? 0
        let anySynthetic = models.contains { $0.synthetic != nil }
        let columns = models.map { rows($0, quantRows: quantRows, weightsRow: anySynthetic) }
        // Columns share their labels row for row (quantization rows padded); only a trailing
        // "note" differs, shown where a model has one.
        let count = columns.map(\.count).max() ?? 0
        let table: [[String]] = (0..<count).map { i in
            [columns.first { i < $0.count }![i].0] + columns.map { i < $0.count ? $0[i].1 : "" }
        }
        let widths = (0...columns.count).map { col in table.map { $0[col].count }.max() ?? 0 }
        return table.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Human-readable numbers.
public enum Format {
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(n) B" : "\(fixed(v, 2)) \(units[i])"
    }

    /// 268098176 → "268.1M".
    public static func count(_ n: Int) -> String {
        let v = Double(n)
        if v >= 1e9 { return fixed(v / 1e9, 2) + "B" }
        if v >= 1e6 { return fixed(v / 1e6, 1) + "M" }
        if v >= 1e3 { return fixed(v / 1e3, 1) + "K" }
        return "\(n)"
    }

    /// A number without a needless ".0": 10000 → "10000", 1e-6 → "1e-06".
    public static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(v)"
    }

    public static func fixed(_ v: Double, _ digits: Int) -> String {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (v * p).rounded() / p
        var s = "\(r)"
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 {
            s += "." + String(repeating: "0", count: digits)
        }
        return s
    }
}
