/// `feather fit` as text: per model its facts, weights per quantization, and a row per hardware × quantization.
public enum FitReport {
    public static func gib(_ bytes: Int) -> String { Format.fixed(Double(bytes) / Double(1 << 30), 2) }

    /// 1008.0 → "1008".
    public static func whole(_ v: Double) -> String { v.isFinite ? String(Int(v.rounded())) : "\(v)" }

    public static func rate(_ v: Double) -> String {
        v >= 100 ? FitReport.whole(v) : v >= 10 ? Format.fixed(v, 1) : Format.fixed(v, 2)
    }

    public static func describe(_ f: ModelFacts) -> [String] {
        var lines = [
            "\(f.layers) layers, width \(f.embeddingWidth), \(f.heads) heads / \(f.kvHeads) KV heads × \(f.headDim), FFN \(f.ffnWidth), "
                + "vocabulary \(f.vocabSize), context \(f.contextLength)\(f.tiedEmbeddings ? ", tied embeddings" : "")",
        ]
        if let w = f.slidingWindow {
            lines.append("sliding window \(w) tokens on \(f.slidingLayers.count) of \(f.layers) layers (\(f.globalLayerCount) global)")
        }
        return lines
    }

    public static func render(model m: ModelResult, rows: [FitRow], hardware: [Hardware], context: Int, kv: KVCacheElement) -> String {
        guard let f = m.facts else { return "\(m.label): no configuration known (not a file or a catalog id)" }
        var out = ["\(f.displayName) (\(m.label): \(m.source.kindName), \(f.source))"]
        out += describe(f).map { "  " + $0 }
        if let mark = m.synthetic { out.append("  weights: " + InspectionReport.syntheticText(mark)) }
        let ctx = min(context, f.contextLength)
        let kvBytes = f.kvCacheBytes(tokens: ctx, type: kv)
        var kvLine = "  KV cache (\(kv.rawValue.uppercased())) at \(ctx) tokens: \(Format.bytes(kvBytes))"
        if f.slidingWindow != nil { kvLine += " (if every layer kept every token: \(Format.bytes(f.naiveKVCacheBytes(tokens: ctx, type: kv))))" }
        out.append(kvLine)
        if context > f.contextLength { out.append("  note: --ctx \(context) is past the model's context length; using \(f.contextLength)") }
        for w in m.weights {
            let mix = w.typeMix.map { "\($0.type) \(Format.bytes($0.bytes))" }.joined(separator: ", ")
            out.append("  weights \(w.quant): \(Format.bytes(w.bytes)), \(Format.fixed(w.bitsPerWeight, 2)) bits/weight (\(mix))")
        }
        var table = TextTable(header: ["hardware", "quant", "weights", "KV", "compute", "overhead", "total GiB", "usable GiB",
                                       "fits", "max context", "decode ≤ tok/s"],
                              rightAligned: [2, 3, 4, 5, 6, 7, 9, 10])
        for r in rows {
            table.rows.append([r.hardware, r.quant, gib(r.weightsBytes), gib(r.kvCacheBytes), gib(r.computeBufferBytes),
                               gib(r.runtimeOverheadBytes), gib(r.totalBytes), gib(r.usableBytes), r.fits ? "yes" : "no",
                               r.maxContextThatFits == 0 ? "—" : "\(r.maxContextThatFits)", rate(r.decodeTokensPerSecondUpperBound)])
        }
        out.append("")
        out.append(table.render(indent: "  "))
        return out.joined(separator: "\n")
    }

    public static func hardwareLines(_ hardware: [Hardware]) -> [String] {
        hardware.map { h in
            "  \(h.id): \(h.name); \(Format.bytes(h.totalBytes)) installed, \(Format.bytes(h.usableBytes)) usable, "
                + "\(Format.fixed(h.bandwidthBytesPerSecond / 1e9, 1)) GB/s (\(h.source))"
        }
    }

    public static let formulas = [
        "weights: the GGUF's own tensor sizes, or each tensor of the published configuration at the type the llama.cpp recipe gives it",
        "  (Q4_K_M: Q4_K, with Q6_K for the output/tied embedding and for attn_v and ffn_down in the first and last eighth of",
        "  the layers and every third layer between; rows not a multiple of 256 fall back to Q5_0 / Q8_0; norms F32)",
        "KV cache = Σ over layers of KV heads × head dim × 2 (K and V) × bytes per element × tokens held;",
        "  a sliding-window layer holds min(context, window) tokens",
        "compute = 4 B × 512 (micro-batch) × (vocabulary + 2 × FFN + 3 × width) + 2 B × 512 × context (flash-attention mask)",
        "overhead = 0.5 GiB on CUDA GPUs, 0.25 GiB on Macs (Metal) and CPUs",
        "fits: weights + KV + compute + overhead ≤ usable memory; max context: the largest context for which it does",
        "decode ≤ bandwidth / (weight bytes read per token + KV cache bytes): every weight once per token (an untied",
        "  embedding table: one row), the whole cache once; a bound, not a prediction (real decoders reach 50-90% of it)",
    ]
}
