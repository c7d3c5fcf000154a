import Foundation
import Testing
@testable import Engine

/// Perplexity against llama.cpp's llama-perplexity on both embedded models: Tests/Fixtures/perplexity, made by
/// scripts/oracle/perplexity_fixtures.sh (text.txt, ctx 512, 3 chunks, 2 threads, -fa off, f16 KV cache; each JSON
/// names the llama.cpp build). Feather's perplexity with the same settings: within 0.25% at the end and 0.75% after
/// each chunk; and within 0.1% of it or at least as close as it to the exact perplexity (the fixture's "exact", from
/// scripts/oracle/exact_perplexity.py). SmolLM2 misses that: a known issue, which fails once it is met.
@Suite(.serialized) struct PerplexityOracleTests {
    struct Fixture: Decodable {
        struct Settings: Decodable { var ctx: Int; var chunks: Int; var threads: Int; var cacheType: String }
        var ppl: Double
        var running: [Double]
        var settings: Settings
        var llamaCpp: String
        /// Exact perplexity (float64 forward pass of the dequantized weights, scripts/oracle/exact_perplexity.py).
        struct Exact: Decodable { var ppl: Double; var running: [Double] }
        var exact: Exact
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/perplexity")

    static func check(_ model: String) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let fixture = try decoder.decode(Fixture.self, from: Data(contentsOf: directory.appendingPathComponent("\(model).json")))
        let text = try String(contentsOf: directory.appendingPathComponent("text.txt"), encoding: .utf8)
        let s = fixture.settings
        #expect(s.cacheType == "f16")
        let engine = try Engine(path: try #require(embeddedModelPath(model)), threads: s.threads, contextLength: s.ctx, cacheType: .f16)
        let r = try engine.perplexity(text: text, contextLength: s.ctx, maxChunks: s.chunks)
        #expect(r.chunks == s.chunks && r.running.count == fixture.running.count)
        #expect(r.scoredTokens == s.chunks * (s.ctx - 1 - s.ctx / 2))
        // llama-perplexity prints 4 decimals: the rounding is far below these tolerances at these values.
        func within(final: Double, chunk: Double, _ why: String) {
            for (i, (ours, theirs)) in zip(r.running, fixture.running).enumerated() {
                #expect(abs(ours / theirs - 1) < chunk, "\(model) after chunk \(i + 1): \(ours) vs llama-perplexity \(theirs); \(why)")
            }
            #expect(abs(r.perplexity / fixture.ppl - 1) < final,
                    "\(model): \(r.perplexity) vs llama-perplexity \(fixture.ppl) (\(fixture.llamaCpp)); \(why)")
        }
        within(final: 0.0025, chunk: 0.0075, "beyond 0.25% (0.75% per chunk): the scoring is broken")
        // The standard of issue 23: within 0.1% of llama-perplexity, or at least as close as it to the exact perplexity.
        let exact = fixture.exact.ppl
        let ours = abs(r.perplexity / exact - 1), theirs = abs(fixture.ppl / exact - 1)
        print("perplexity \(model): feather \(r.perplexity), llama-perplexity \(fixture.ppl), exact \(exact): "
              + "feather \(String(format: "%+.3f", 100 * (r.perplexity / exact - 1)))%, llama.cpp \(String(format: "%+.3f", 100 * (fixture.ppl / exact - 1)))% from exact")
        let met = ours <= theirs || abs(r.perplexity / fixture.ppl - 1) < 0.001
        if model == "smollm2-135m" {
            withKnownIssue("SmolLM2: feather is 0.31% above the exact perplexity, llama-perplexity 0.15% (Tests/Fixtures/perplexity/README.md)") {
                #expect(met, "\(model): neither within 0.1% of llama-perplexity nor as close to exact")
            }
        } else {
            #expect(met, "\(model): feather \(r.perplexity) is neither within 0.1% of llama-perplexity \(fixture.ppl) nor as close to exact \(exact)")
        }
    }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs .models (make models)"))
    func smolLM2MatchesLlamaPerplexity() throws { try Self.check("smollm2-135m") }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("gemma3-270m") != nil), "needs .models (make models)"))
    func gemma3MatchesLlamaPerplexity() throws { try Self.check("gemma3-270m") }
}
