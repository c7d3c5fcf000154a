import Compute
import Foundation
import GGUF
import Models
import Testing

/// Closeness to exact arithmetic (issue 23). Tests/Fixtures/exact/MODEL.json, written by
/// scripts/oracle/exact_reference.py (a float64 forward pass of the GGUF's own dequantized weights,
/// cross-checked against transformers), holds the token ids of 2 Wikipedia chunks of 512 tokens (as
/// llama-perplexity runs them) and 12 prompts, the exact top-32 log-probabilities at every position, and
/// llama.cpp's figures against the same reference. Per scored position, with T the exact top-32 ids:
/// KL(exact ‖ engine) over T plus one "other" bucket (p_other = 1 - Σ_T p, q_other = 1 - Σ_T q, q from
/// the engine's log-softmax over the whole vocabulary), top-1 agreement (the engine's argmax is T[0]), |Δ log-prob| of the exact top-1.
/// The script defines the same statistics; the 99.9th percentile interpolates as numpy.percentile.
enum ExactFidelity {
    struct Fixture: Decodable {
        struct Position: Decodable { let ids: [Int32]; let logprobs: [Double] }
        struct Sequence: Decodable {
            let kind: String
            let firstScored: Int
            let lastScored: Int
            let tokens: [Int32]
            let positions: [Position]
        }
        let model: String
        let llamaCpp: [String: Figures]
        let sequences: [Sequence]
    }

    struct Figures: Codable, Sendable, CustomStringConvertible {
        var positions: Int
        var meanKl: Double
        var p999Kl: Double
        var top1Agreement: Double
        var maxAbsDlogprobTop1: Double

        var description: String {
            String(format: "mean KL %.3e, p99.9 KL %.3e, top-1 %.2f%%, max |Δ logprob top-1| %.4f (%d positions)",
                   meanKl, p999Kl, 100 * top1Agreement, maxAbsDlogprobTop1, positions)
        }
    }

    struct Tally {
        var kl: [Double] = []
        var top1 = 0
        var maxDelta = 0.0

        mutating func add(_ pos: Fixture.Position, logits l: UnsafeBufferPointer<Float>) {
            var m = l[0], best = 0
            for j in 1..<l.count where l[j] > m { m = l[j]; best = j }
            var all = 0.0
            for j in 0..<l.count { all += exp(Double(l[j] - m)) }
            let lse = Double(m) + log(all)
            var kl = 0.0, pInT = 0.0, qInT = 0.0
            for (id, e) in zip(pos.ids, pos.logprobs) {
                let q = Double(l[Int(id)]) - lse
                kl += exp(e) * (e - q)
                pInT += exp(e)
                qInT += exp(q)
            }
            let pOther = max(1 - pInT, 0)
            if pOther > 0 { kl += pOther * (log(pOther) - log(max(1 - qInT, .leastNormalMagnitude))) }
            self.kl.append(kl)
            if Int32(best) == pos.ids[0] { top1 += 1 }
            maxDelta = max(maxDelta, abs(Double(l[Int(pos.ids[0])]) - lse - pos.logprobs[0]))
        }

        var figures: Figures {
            let s = kl.sorted()
            let rank = 0.999 * Double(s.count - 1), lo = Int(rank.rounded(.down)), hi = min(lo + 1, s.count - 1)
            return Figures(positions: s.count, meanKl: s.reduce(0, +) / Double(s.count),
                           p999Kl: s[lo] + (s[hi] - s[lo]) * (rank - Double(lo)),
                           top1Agreement: Double(top1) / Double(s.count), maxAbsDlogprobTop1: maxDelta)
        }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/exact")

    static func fixture(_ name: String) throws -> Fixture {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(Fixture.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
    }

    /// Figures per kind of sequence ("wiki", "prompt"), each sequence from an empty F16 cache as
    /// llama-perplexity and llama-cpp-python ran them; `wikiChunks` limits the wiki chunks scored.
    static func measure(_ model: any LanguageModel, _ fx: Fixture, wikiChunks: Int = .max) throws -> [String: Figures] {
        var tallies: [String: Tally] = [:]
        var chunks = 0
        for s in fx.sequences {
            if s.kind == "wiki" { chunks += 1; if chunks > wikiChunks { continue } }
            var t = tallies[s.kind] ?? Tally()
            try model.evaluate(s.tokens, state: model.makeState(contextLength: 512, cacheType: .f16), allLogits: true) { i, logits in
                if i >= s.firstScored, i <= s.lastScored { t.add(s.positions[i], logits: logits) }
            }
            tallies[s.kind] = t
        }
        return tallies.mapValues(\.figures)
    }

    static let marker = "exact-fidelity-figures: "
}

@Suite(.serialized) struct ExactFidelityTests {
    static let models = ["smollm2-135m", "gemma3-270m"]
    static let present = models.allSatisfy { embeddedModel($0) != nil }

    /// The goal not yet met, as measured on 2026-12-07 (AMD EPYC, AVX-512; ours vs llama.cpp): these figures may not
    /// grow (the engine's results do not depend on the machine, threads or batch, so they reproduce; 1e-6 relative
    /// absorbs libm's exp/log differing between platforms), and each is printed as a gap. Issue 23 stays open on them.
    static let knownGaps: [String: Double] = [
        "smollm2-135m wiki scalar meanKl": 0.002211507221336075, "smollm2-135m wiki scalar p999Kl": 0.030530162818794903,
        "smollm2-135m wiki scalar maxAbsDlogprobTop1": 0.4700629516693584,
        "gemma3-270m prompt scalar meanKl": 0.005939922108695401, "gemma3-270m prompt scalar p999Kl": 0.16689784506356564,
        "gemma3-270m prompt scalar maxAbsDlogprobTop1": 0.8091799081409458,
        "gemma3-270m wiki avx2 maxAbsDlogprobTop1": 0.7586860309734007, "gemma3-270m wiki avx512 maxAbsDlogprobTop1": 0.7586860309734007,
    ]

    /// `ours` is at least as close to exact as `theirs` (lower is closer), or, for a known gap, no further than measured.
    static func check(_ key: String, ours: Double, theirs: Double) {
        if let measured = knownGaps[key] {
            print("exact fidelity gap (issue 23, not yet met): \(key) \(ours) vs llama.cpp \(theirs)")
            #expect(ours <= measured * (1 + 1e-6), "\(key): \(ours) is further from exact than measured before (\(measured))")
        } else {
            #expect(ours <= theirs, "\(key): \(ours) is further from exact than llama.cpp's \(theirs)")
        }
    }

    /// Featherweight is at least as close to exact as llama.cpp on every statistic, per model, per set of
    /// sequences and per ISA this CPU runs, but for `knownGaps` (on the prompts AVX2 and AVX-512 equal llama.cpp's:
    /// llama-cpp-python 0.3.36 computes them in the same order). `ISA.preferred` is chosen once per process, so each
    /// ISA runs in a child process (an exit test) with FEATHER_ISA set before the first kernel call.
    @Test(.enabled(if: Needs.runs(present), "needs the embedded models in .models (make models)"),
          arguments: models, ISA.allCases.filter(\.isSupported).map(\.rawValue))
    func atLeastAsCloseAsLlamaCpp(model: String, isa: String) async throws {
        let fx = try ExactFidelity.fixture(model)
        let result = try await #require(processExitsWith: .success, observing: [\.standardOutputContent]) { [model, isa] in
            setenv("FEATHER_ISA", isa, 1)
            guard ISA.preferred.rawValue == isa else { exit(2) }
            let path = embeddedModel(model)!
            let figures = try ExactFidelity.measure(try ModelRegistry.load(path: path, threads: 2), try ExactFidelity.fixture(model),
                                                    wikiChunks: isa == "scalar" ? 1 : .max)
            print(ExactFidelity.marker + String(decoding: try JSONEncoder().encode(figures), as: UTF8.self))
        }
        let out = String(decoding: result.standardOutputContent, as: UTF8.self)
        let line = try #require(out.split(separator: "\n").last { $0.hasPrefix(ExactFidelity.marker) })
        let ours = try JSONDecoder().decode([String: ExactFidelity.Figures].self, from: Data(line.dropFirst(ExactFidelity.marker.count).utf8))
        // The scalar kernels in a debug build are slow: they are measured on the first wiki chunk only.
        for (kind, llamaKey) in [("wiki", isa == "scalar" ? "wiki_chunk0" : "wiki"), ("prompt", "prompts")] {
            let us = try #require(ours[kind]), them = try #require(fx.llamaCpp[llamaKey])
            print("exact fidelity \(model) \(kind) featherweight[\(isa)]: \(us)")
            print("exact fidelity \(model) \(kind) llama.cpp: \(them)")
            #expect(us.positions == them.positions)
            let key = "\(model) \(kind) \(isa) "
            Self.check(key + "meanKl", ours: us.meanKl, theirs: them.meanKl)
            Self.check(key + "p999Kl", ours: us.p999Kl, theirs: them.p999Kl)
            Self.check(key + "top1Disagreement", ours: 1 - us.top1Agreement, theirs: 1 - them.top1Agreement)
            Self.check(key + "maxAbsDlogprobTop1", ours: us.maxAbsDlogprobTop1, theirs: them.maxAbsDlogprobTop1)
        }
    }
}
