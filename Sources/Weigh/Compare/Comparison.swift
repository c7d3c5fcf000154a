import Foundation

/// Builds a `ComparisonResult` from the models' results: rows like the seed article (parameters, context,
/// speed, hardware fit, modalities, scores, licence), each measured row with a significance test per pair,
/// and a closing verdict per use drawn only from significant (measured) or exact (derived) differences.
public enum Comparison {
    public static let needsWeights = "needs weights or an endpoint"

    public static func build(models: [ModelResult], hardware: [Hardware], settings: CompareSettings, command: [String],
                             notes: [String] = [], createdAt: Date = Date()) -> ComparisonResult {
        let pairs = pairIndices(models.count)
        var sections: [Section] = []
        sections.append(Section(title: "Model", rows: modelRows(models, pairs: pairs)))
        sections.append(Section(title: "Memory at \(settings.contextLength) tokens (\(settings.kvType.rawValue.uppercased()) KV cache)",
                                rows: memoryRows(models, hardware: hardware, settings: settings, pairs: pairs)))
        sections.append(Section(title: "Speed", rows: speedRows(models, hardware: hardware, settings: settings, pairs: pairs)))
        sections.append(Section(title: "Quality", rows: qualityRows(models, settings: settings, pairs: pairs)))
        let verdicts = [
            qualityVerdict(verdict("quality", sections[3].rows, models: models, kinds: [.measured]), rows: sections[3].rows,
                           modelCount: models.count),
            verdict("speed", sections[2].rows.filter { $0.kind == .measured }, models: models, kinds: [.measured],
                    fallback: sections[2].rows.filter { $0.kind == .derived }),
            verdict("memory", sections[1].rows.filter { $0.id == "memory.total" }, models: models, kinds: [.derived]),
        ]
        return ComparisonResult(createdAt: createdAt, command: command, settings: settings, models: models, hardware: hardware,
                                sections: sections, verdicts: verdicts, memoryCurves: curves(models), notes: notes)
    }

    static func pairIndices(_ n: Int) -> [(Int, Int)] {
        (0..<n).flatMap { a in ((a + 1)..<max(a + 1, n)).map { (a, $0) } }
    }

    // MARK: Model facts

    static func modelRows(_ models: [ModelResult], pairs: [(Int, Int)]) -> [Row] {
        func fact(_ id: String, _ label: String, _ f: (ModelResult) -> String?) -> Row {
            Row(id: id, label: label, kind: .fact, cells: models.map { m in f(m).map { Cell(text: $0) } ?? .missing("not known") })
        }
        var rows = [
            fact("model.source", "source") { m in
                switch m.source {
                case .file(let p): "GGUF \(p)"
                case .catalog(let id): "catalog \(id) (published config)"
                case .endpoint(let url, let model): "\(model) at \(url)"
                }
            },
        ]
        rows.append(Row(id: "model.parameters", label: "parameters", kind: .fact, cells: models.map { m in
            guard let p = m.parameters else { return .missing("not known") }
            var text = Format.count(p)
            if m.inspection == nil, let v = m.facts?.visionParameters { text += " (\(Format.count(p - v)) text + \(Format.count(v)) vision)" }
            return Cell(text: text, value: Double(p))
        }))
        rows.append(fact("model.architecture", "architecture") { m in
            m.facts.map { "\($0.architecture), \($0.layers) layers × \($0.embeddingWidth), \($0.heads)/\($0.kvHeads) heads" }
        })
        rows.append(derivedRow("model.context", "context window", models: models, pairs: pairs, higherIsBetter: true, unit: "tokens") { m in
            guard let f = m.facts else { return nil }
            var text = "\(f.contextLength) tokens"
            if let w = f.slidingWindow { text += " (\(f.slidingLayers.count) of \(f.layers) layers see \(w))" }
            return Cell(text: text, value: Double(f.contextLength))
        })
        rows.append(fact("model.modalities", "input modalities") { m in
            guard let f = m.facts else { return nil }
            var text = f.modalities.joined(separator: " + ")
            if case .file = m.source, let known = ModelCatalog.find(m.label), known.modalities != f.modalities {
                text += " (model: \(known.modalities.joined(separator: " + ")); this file has no vision tower)"
            }
            return text
        })
        rows.append(fact("model.licence", "licence") { $0.facts?.licence ?? $0.inspection?.license })
        rows.append(fact("model.weights", "weights") { m in
            m.weights.first.map { "\($0.quant) \(Format.bytes($0.bytes)), \(Format.fixed($0.bitsPerWeight, 2)) bits/weight" }
                .map { text in m.synthetic.map { text + "; measured on " + InspectionReport.syntheticText($0) } ?? text }
        })
        return rows
    }

    /// A row computed from facts: exact comparison, the better value wins outright.
    static func derivedRow(_ id: String, _ label: String, models: [ModelResult], pairs: [(Int, Int)], higherIsBetter: Bool,
                           unit: String?, kind: RowKind = .derived, short: String? = nil, _ f: (ModelResult) -> Cell?) -> Row {
        let cells = models.map { f($0) ?? .missing(needsFacts($0)) }
        let outcomes: [PairOutcome] = pairs.compactMap { a, b in
            guard let x = cells[a].value, let y = cells[b].value else { return nil }
            let winner: Int? = x == y ? nil : ((x > y) == higherIsBetter ? a : b)
            return PairOutcome(a: a, b: b, winner: winner, pValue: nil, method: "derived",
                               detail: winner == nil ? "equal" : "exact (computed, no sampling noise)")
        }
        return Row(id: id, label: label, kind: kind, cells: cells, outcomes: outcomes, higherIsBetter: higherIsBetter, unit: unit,
                   short: short)
    }

    static func needsFacts(_ m: ModelResult) -> String {
        m.facts == nil ? "configuration not known (endpoint model is not a catalog id)" : "not known"
    }

    // MARK: Memory

    static func memoryRows(_ models: [ModelResult], hardware: [Hardware], settings: CompareSettings, pairs: [(Int, Int)]) -> [Row] {
        let ctx = settings.contextLength
        var rows: [Row] = []
        rows.append(derivedRow("memory.weights", "weights", models: models, pairs: pairs, higherIsBetter: false, unit: "bytes") { m in
            m.weights.first.map { Cell(text: "\(Format.bytes($0.bytes)) (\($0.quant))", value: Double($0.bytes)) }
        })
        rows.append(derivedRow("memory.kv", "KV cache", models: models, pairs: pairs, higherIsBetter: false, unit: "bytes") { m in
            guard let f = m.facts else { return nil }
            let n = min(ctx, f.contextLength)
            let bytes = f.kvCacheBytes(tokens: n, type: settings.kvType)
            var text = Format.bytes(bytes) + (n < ctx ? " (at its limit, \(n))" : "")
            if f.slidingWindow != nil { text += "; all layers full: \(Format.bytes(f.naiveKVCacheBytes(tokens: n, type: settings.kvType)))" }
            return Cell(text: text, value: Double(bytes))
        })
        rows.append(derivedRow("memory.total", "weights + KV + compute", models: models, pairs: pairs, higherIsBetter: false,
                               unit: "bytes", short: "weights + KV + compute at \(ctx) tokens") { m in
            guard let f = m.facts, let w = m.weights.first else { return nil }
            let n = min(ctx, f.contextLength)
            let bytes = w.bytes + f.kvCacheBytes(tokens: n, type: settings.kvType) + FitCalculator.computeBufferBytes(f, context: n)
            return Cell(text: Format.bytes(bytes), value: Double(bytes))
        })
        for h in hardware {
            rows.append(derivedRow("fit.\(h.id)", "fits \(h.id) (\(Format.bytes(h.usableBytes)) usable)", models: models, pairs: pairs,
                                   higherIsBetter: true, unit: "tokens") { m in
                guard let r = firstFit(m, hardware: h.id) else { return nil }
                let text = r.fits ? "yes; up to \(r.maxContextThatFits) tokens"
                    : r.maxContextThatFits > 0 ? "not at \(r.contextLength); up to \(r.maxContextThatFits) tokens"
                    : "no (weights alone: \(Format.bytes(r.weightsBytes)))"
                return Cell(text: text, value: Double(r.maxContextThatFits))
            })
        }
        return rows
    }

    static func firstFit(_ m: ModelResult, hardware: String) -> FitRow? {
        guard let quant = m.weights.first?.quant else { return nil }
        return m.fit.first { $0.hardware == hardware && $0.quant == quant }
    }

    // MARK: Speed

    static func speedRows(_ models: [ModelResult], hardware: [Hardware], settings: CompareSettings, pairs: [(Int, Int)]) -> [Row] {
        var rows: [Row] = []
        for (id, label, samples) in [("speed.prefill", "prefill tok/s, this machine (measured)", \SpeedMeasurement.prefillSamples),
                                     ("speed.decode", "decode tok/s, this machine (measured)", \SpeedMeasurement.decodeSamples)] {
            let cells = models.map { m -> Cell in
                guard let s = m.speed else { return .missing(missingMeasurement(m, what: "speed")) }
                let xs = s[keyPath: samples]
                let mean = Significance.mean(xs)
                let sd = xs.count > 1 ? Significance.sampleStandardDeviation(xs) : 0
                return Cell(text: "\(FitReport.rate(mean)) ± \(FitReport.rate(sd))" + syntheticSuffix(m), value: mean, uncertainty: sd)
            }
            let outcomes: [PairOutcome] = pairs.compactMap { a, b in
                guard let x = models[a].speed?[keyPath: samples], let y = models[b].speed?[keyPath: samples] else { return nil }
                guard let w = Significance.welch(x, y) else {
                    return PairOutcome(a: a, b: b, winner: nil, pValue: nil, method: "Welch t-test", detail: "needs two repetitions each")
                }
                let winner: Int? = w.pValue < settings.alpha ? (w.t > 0 ? a : b) : nil
                return PairOutcome(a: a, b: b, winner: winner, pValue: w.pValue, method: "Welch t-test",
                                   detail: "t = \(Format.fixed(w.t, 2)), df = \(Format.fixed(w.degreesOfFreedom, 1)), \(x.count) and \(y.count) repetitions")
            }
            rows.append(Row(id: id, label: label, kind: .measured, cells: cells, outcomes: outcomes, higherIsBetter: true, unit: "tok/s",
                            short: id == "speed.prefill" ? "prefill" : "decode"))
        }
        rows += syntheticSpeedRows(models, settings: settings, pairs: pairs)
        for h in hardware {
            var row = derivedRow("sol.\(h.id)", "decode bound on \(h.id) (\(FitReport.whole(h.bandwidthBytesPerSecond / 1e9)) GB/s), tok/s",
                                 models: models, pairs: pairs, higherIsBetter: true, unit: "tok/s") { m in
                guard let r = firstFit(m, hardware: h.id) else { return nil }
                return Cell(text: FitReport.rate(r.decodeTokensPerSecondUpperBound) + (r.fits ? "" : " (does not fit)"),
                            value: r.decodeTokensPerSecondUpperBound)
            }
            row.short = h.id
            rows.append(row)
        }
        return rows
    }

    /// " (synthetic weights: speed and memory only)" for a model measured on random weights.
    static func syntheticSuffix(_ m: ModelResult) -> String { m.synthetic == nil ? "" : " (\(ModelSynthesizer.label))" }

    /// Rows only synthetic measurements carry: decode at each depth (Welch t-test), load time, peak RSS, KV cache.
    static func syntheticSpeedRows(_ models: [ModelResult], settings: CompareSettings, pairs: [(Int, Int)]) -> [Row] {
        var rows: [Row] = []
        let depths = Array(Set(models.flatMap { $0.speed?.decodeAtDepth?.map(\.depth) ?? [] })).sorted()
        for d in depths {
            func samples(_ m: ModelResult) -> [Double]? { m.speed?.decodeAtDepth?.first { $0.depth == d }?.samples }
            let cells = models.map { m -> Cell in
                guard let xs = samples(m) else {
                    return .missing(m.speed == nil ? missingMeasurement(m, what: "speed") : "not measured at this depth (beyond its context)")
                }
                let mean = Significance.mean(xs), sd = xs.count > 1 ? Significance.sampleStandardDeviation(xs) : 0
                return Cell(text: "\(FitReport.rate(mean)) ± \(FitReport.rate(sd))" + syntheticSuffix(m), value: mean, uncertainty: sd)
            }
            let outcomes: [PairOutcome] = pairs.compactMap { a, b in
                guard let x = samples(models[a]), let y = samples(models[b]) else { return nil }
                guard let w = Significance.welch(x, y) else {
                    return PairOutcome(a: a, b: b, winner: nil, pValue: nil, method: "Welch t-test", detail: "needs two repetitions each")
                }
                let winner: Int? = w.pValue < settings.alpha ? (w.t > 0 ? a : b) : nil
                return PairOutcome(a: a, b: b, winner: winner, pValue: w.pValue, method: "Welch t-test",
                                   detail: "t = \(Format.fixed(w.t, 2)), df = \(Format.fixed(w.degreesOfFreedom, 1)), \(x.count) and \(y.count) repetitions")
            }
            rows.append(Row(id: "speed.decode.d\(d)", label: "decode tok/s at depth \(d), this machine (measured)", kind: .measured,
                            cells: cells, outcomes: outcomes, higherIsBetter: true, unit: "tok/s", short: "decode @ d\(d)"))
        }
        func single(_ id: String, _ label: String, unit: String, _ value: (SpeedMeasurement) -> Double?, _ text: (Double) -> String) {
            guard models.contains(where: { $0.speed.flatMap(value) != nil }) else { return }
            rows.append(Row(id: id, label: label, kind: .fact, cells: models.map { m in
                guard let v = m.speed.flatMap(value) else { return .missing(m.speed == nil ? missingMeasurement(m, what: "speed") : "not measured") }
                return Cell(text: text(v) + syntheticSuffix(m), value: v)
            }, unit: unit))
        }
        single("speed.load", "load time, warm page cache (measured once)", unit: "s", { $0.loadSeconds }) { Format.fixed($0, 2) + " s" }
        single("speed.peak_rss", "peak RSS while benchmarking (measured)", unit: "bytes", { $0.peakResidentBytes.map(Double.init) }) {
            Format.bytes(Int($0))
        }
        single("speed.kv", "KV cache at the deepest test (measured)", unit: "bytes", { $0.kvCacheBytes.map(Double.init) }) {
            Format.bytes(Int($0))
        }
        return rows
    }

    static func missingMeasurement(_ m: ModelResult, what: String) -> String {
        if !m.source.canRun && m.syntheticFile == nil { return needsWeights }
        return m.notMeasured.first { $0.hasPrefix(what) } ?? "not measured"
    }

    // MARK: Quality

    static func qualityRows(_ models: [ModelResult], settings: CompareSettings, pairs: [(Int, Int)]) -> [Row] {
        var tasks: [String] = settings.tasks
        for m in models { for t in m.tasks where !tasks.contains(t.task) { tasks.append(t.task) } }
        return tasks.map { task in taskRow(task, models, settings: settings, pairs: pairs) } + klDivergenceRows(models)
    }

    /// "KL divergence from A" when some model is another quantization of the first: mean KLD ± its uncertainty,
    /// with the share of positions whose most likely token is A's. No pair test: it is a distance from A, not a score.
    static func klDivergenceRows(_ models: [ModelResult]) -> [Row] {
        guard let settings = models.lazy.compactMap(\.klDivergence).first?.settings else { return [] }
        let cells = models.enumerated().map { i, m -> Cell in
            if i == 0 { return Cell(text: "reference", value: 0) }
            guard let k = m.klDivergence else {
                return .missing(m.notMeasured.first { $0.hasPrefix("KL divergence") } ?? "not another quantization of A")
            }
            return Cell(text: Format.fixed(k.meanKLD.value, 5) + " ± " + Format.fixed(k.meanKLD.uncertainty, 5)
                            + " (same top token " + Format.fixed(100 * k.sameTop.value, 1) + "%, n=\(k.positions))",
                        value: k.meanKLD.value, uncertainty: k.meanKLD.uncertainty)
        }
        return [Row(id: "quality.kld", label: "KL divergence from A (\(settings))", kind: .measured, cells: cells,
                    higherIsBetter: false, unit: "nats", short: "KL divergence from A")]
    }

    static func taskRow(_ task: String, _ models: [ModelResult], settings: CompareSettings, pairs: [(Int, Int)]) -> Row {
        let results = models.map { m in m.tasks.first { $0.task == task } }
        let reference = results.compactMap { $0 }.first
        let cells = zip(models, results).map { m, r -> Cell in
            guard let r else { return .missing(missingMeasurement(m, what: "task \(task)")) }
            let digits = r.kind == .accuracy ? 1 : 3
            let scale = r.kind == .accuracy ? 100.0 : 1.0
            var text = Format.fixed(r.value * scale, digits) + (r.kind == .accuracy ? "%" : "")
            if let se = r.stderr { text += " ± " + Format.fixed(se * scale, digits) }
            return Cell(text: text + " (n=\(r.n))", value: r.value, uncertainty: r.stderr)
        }
        let outcomes: [PairOutcome] = pairs.compactMap { a, b in
            guard let x = results[a], let y = results[b] else { return nil }
            return pairTask(x, y, a: a, b: b, alpha: settings.alpha)
        }
        let label = reference.map { "\(task) (\($0.metric))" } ?? task
        return Row(id: "task.\(task)", label: label, kind: .measured, cells: cells, outcomes: outcomes,
                   higherIsBetter: reference?.higherIsBetter, unit: reference?.metric, short: task)
    }

    /// Pairs two models' items by id and tests the difference: McNemar for right/wrong, paired bootstrap otherwise.
    public static func pairTask(_ x: TaskMeasurement, _ y: TaskMeasurement, a: Int, b: Int, alpha: Double,
                                resamples: Int = 10_000, seed: UInt64 = 20_250_312) -> PairOutcome {
        let byId = Dictionary(y.items.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let paired = x.items.compactMap { i in byId[i.id].map { (i, $0) } }
        guard x.settings == y.settings else {
            return PairOutcome(a: a, b: b, winner: nil, pValue: nil, method: "none", detail: "different settings: \(x.settings) vs \(y.settings)")
        }
        guard !paired.isEmpty else {
            return PairOutcome(a: a, b: b, winner: nil, pValue: nil, method: "none", detail: "no items in common")
        }
        switch x.kind {
        case .accuracy:
            let onlyA = paired.filter { $0.0.correct == true && $0.1.correct == false }.count
            let onlyB = paired.filter { $0.0.correct == false && $0.1.correct == true }.count
            let r = Significance.mcNemar(onlyA: onlyA, onlyB: onlyB)
            let winner: Int? = r.pValue < alpha ? (onlyA > onlyB ? a : b) : nil
            let mdd = Significance.detectableAccuracyDifference(onlyA: onlyA, onlyB: onlyB, n: paired.count, alpha: alpha)
            return PairOutcome(a: a, b: b, winner: winner, pValue: r.pValue, method: "McNemar exact",
                               detail: "\(paired.count) paired items; only \(ComparisonResult.letter(a)) right: \(onlyA), only \(ComparisonResult.letter(b)) right: \(onlyB)",
                               detectable: mdd, resolution: resolution(mdd, n: paired.count) { Format.fixed(100 * $0, 1) + " points" })
        case .ratio, .score:
            let usable = paired.filter { $0.0.value != nil && $0.1.value != nil }
            guard !usable.isEmpty else {
                return PairOutcome(a: a, b: b, winner: nil, pValue: nil, method: "none", detail: "items carry no values")
            }
            let weights = x.kind == .ratio ? usable.map { $0.0.weight ?? 1 } : nil
            if usable.count < 10 {
                // Too few items for a bootstrap to be trusted: the exact permutation test instead.
                let va = usable.map { $0.0.value! }, vb = usable.map { $0.1.value! }
                let w = (weights ?? Array(repeating: 1, count: va.count)).reduce(0, +)
                let difference = (va.reduce(0, +) - vb.reduce(0, +)) / w
                let p = Significance.pairedPermutation(a: va, b: vb, weights: weights)
                let better: Int = (difference > 0) == x.higherIsBetter ? a : b
                // The sign-flip distribution's standard deviation: √Σ(aᵢ − bᵢ)² / Σw.
                let se = zip(va, vb).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() / w
                let mdd = Significance.permutationCanReach(alpha: alpha, n: usable.count)
                    ? Significance.detectableDifference(standardError: se, alpha: alpha) : .infinity
                return PairOutcome(a: a, b: b, winner: p < alpha && difference != 0 ? better : nil, pValue: p,
                                   method: "exact paired permutation",
                                   detail: "\(usable.count) paired items (fewer than 10: no bootstrap), all \(1 << usable.count) swaps; "
                                       + "\(ComparisonResult.letter(a)) − \(ComparisonResult.letter(b)) = \(Format.fixed(difference, 4))",
                                   detectable: mdd, resolution: resolution(mdd, n: usable.count) { Format.fixed($0, 4) + " " + x.metric })
            }
            let r = Significance.pairedBootstrap(a: usable.map { $0.0.value! }, b: usable.map { $0.1.value! }, weights: weights,
                                                 resamples: resamples, seed: seed)
            let better: Int = (r.difference > 0) == x.higherIsBetter ? a : b
            let winner: Int? = r.pValue < alpha && r.difference != 0 ? better : nil
            let mdd = Significance.detectableDifference(standardError: r.standardError, alpha: alpha)
            return PairOutcome(a: a, b: b, winner: winner, pValue: r.pValue, method: "paired bootstrap",
                               detail: "\(usable.count) paired items, \(r.resamples) resamples (seed \(r.seed)); "
                                   + "\(ComparisonResult.letter(a)) − \(ComparisonResult.letter(b)) = \(Format.fixed(r.difference, 4)), "
                                   + "95% CI [\(Format.fixed(r.lower, 4)), \(Format.fixed(r.upper, 4))]",
                               detectable: mdd, resolution: resolution(mdd, n: usable.count) { Format.fixed($0, 4) + " " + x.metric })
        }
    }

    /// "detectable 6.3 points" (80% power at α), or why no difference can be significant at this n.
    static func resolution(_ mdd: Double, n: Int, _ format: (Double) -> String) -> String {
        mdd.isFinite ? "detectable ≥ " + format(mdd) : "no difference can reach significance with \(n) items"
    }

    // MARK: Verdicts

    static func verdict(_ use: String, _ rows: [Row], models: [ModelResult], kinds: Set<RowKind>, fallback: [Row] = []) -> Verdict {
        let considered = rows.filter { kinds.contains($0.kind) && !$0.outcomes.isEmpty }
        if considered.isEmpty {
            if !fallback.isEmpty {
                let v = verdict(use, fallback, models: models, kinds: [.derived])
                return Verdict(use: use, winner: v.winner, text: "not measured here; decode speed of light (derived, tok/s): " + v.text,
                               basis: v.basis)
            }
            let why = rows.first?.cells.compactMap(\.missing).first ?? "nothing measured"
            return Verdict(use: use, winner: nil, text: "no verdict: \(why)", basis: [])
        }
        // beats[w][l]: the rows (with their evidence) where model w is significantly or exactly better than model l.
        var beats: [Int: [Int: [String]]] = [:]
        var ties: [String] = []
        for row in considered {
            for o in row.outcomes {
                if let w = o.winner {
                    let loser = w == o.a ? o.b : o.a
                    // Measured rows cite their p-value; derived rows their values.
                    let evidence = o.pValue.map { " p=\(formatP($0))" } ?? " (\(row.cells[w].text) vs \(row.cells[loser].text))"
                    beats[w, default: [:]][loser, default: []].append("\(row.short ?? row.label)\(evidence)")
                } else if let p = o.pValue {
                    ties.append("\(row.short ?? row.label) p=\(formatP(p))" + (o.resolution.map { ", " + $0 } ?? ""))
                }
            }
        }
        let basis = considered.filter { $0.outcomes.contains { $0.winner != nil } }.map(\.id)
        if beats.isEmpty {
            let detail = ties.isEmpty ? considered.map { $0.short ?? $0.label }.joined(separator: ", ") : ties.joined(separator: "; ")
            return Verdict(use: use, winner: nil, text: "no significant difference (\(detail))", basis: [])
        }
        let others = { (w: Int) in (0..<models.count).filter { $0 != w } }
        // A winner beats every other model somewhere and loses to none anywhere.
        if let w = (0..<models.count).first(where: { w in
            others(w).allSatisfy { l in !(beats[w]?[l] ?? []).isEmpty && (beats[l]?[w] ?? []).isEmpty }
        }) {
            let name = "\(ComparisonResult.letter(w)) (\(models[w].displayName))"
            if models.count == 2 { return Verdict(use: use, winner: w, text: "\(name): " + beats[w]![others(w)[0]]!.joined(separator: "; "), basis: basis) }
            let parts = others(w).map { l in "over \(ComparisonResult.letter(l)) on " + beats[w]![l]!.joined(separator: ", ") }
            return Verdict(use: use, winner: w, text: "\(name): " + parts.joined(separator: "; "), basis: basis)
        }
        let parts = pairIndices(models.count).compactMap { a, b -> String? in
            let ab = beats[a]?[b] ?? [], ba = beats[b]?[a] ?? []
            if ab.isEmpty && ba.isEmpty { return nil }
            var s = "\(ComparisonResult.letter(a)) vs \(ComparisonResult.letter(b)): "
            s += [ab.isEmpty ? nil : "\(ComparisonResult.letter(a)) on " + ab.joined(separator: ", "),
                  ba.isEmpty ? nil : "\(ComparisonResult.letter(b)) on " + ba.joined(separator: ", ")].compactMap { $0 }.joined(separator: ", ")
            return s
        }
        return Verdict(use: use, winner: nil, text: "mixed: " + parts.joined(separator: "; "), basis: basis)
    }

    /// The quality verdict names the measured rows that found no significant difference, with their resolution,
    /// so a verdict drawn from one row says which others could not decide.
    static func qualityVerdict(_ v: Verdict, rows: [Row], modelCount: Int) -> Verdict {
        var undecided: [String] = []
        for row in rows where row.kind == .measured {
            for o in row.outcomes where o.winner == nil {
                guard let p = o.pValue else { continue }
                let pair = modelCount == 2 ? "" : " (\(ComparisonResult.letter(o.a)) vs \(ComparisonResult.letter(o.b)))"
                let resolution = o.resolution.map { ", " + $0 } ?? ""
                undecided.append("\(row.short ?? row.label)\(pair): p=\(formatP(p))\(resolution)")
            }
        }
        guard v.winner != nil || v.text.hasPrefix("mixed"), !undecided.isEmpty else { return v }
        var out = v
        out.text += "; not significant at this n: " + undecided.joined(separator: "; ")
        return out
    }

    public static func formatP(_ p: Double) -> String {
        p < 0.0001 ? "<0.0001" : p < 0.01 ? Format.fixed(p, 4) : Format.fixed(p, 3)
    }

    // MARK: Chart data

    static func curves(_ models: [ModelResult]) -> [MemoryCurve] {
        models.enumerated().compactMap { i, m in
            guard let f = m.facts, let w = m.weights.first else { return nil }
            var contexts: [Int] = [0]
            var c = 1024
            while c < f.contextLength { contexts.append(c); c *= 2 }
            contexts.append(f.contextLength)
            return MemoryCurve(model: i, quant: w.quant, points: contexts.map { n in
                .init(context: n, bytes: w.bytes + f.kvCacheBytes(tokens: n) + FitCalculator.computeBufferBytes(f, context: n))
            })
        }
    }
}
