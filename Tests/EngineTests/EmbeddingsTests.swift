import Engine
import Foundation
import Models
import Testing
import Tokenizers

/// Embeddings: mean-pooled final hidden states at unit length, equal to llama.cpp's server's for the
/// embedded models (Tests/Fixtures/embeddings, made by scripts/oracle/embeddings_fixtures.py), and
/// computed beside a running scheduler without changing what it generates.
struct EmbeddingsTests {
    func synthetic() throws -> Engine {
        var m = SyntheticModel(.gemma3)
        m.seed = 5
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-embed-\(UUID().uuidString).gguf").path
        try m.writer().write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Engine(path: path, threads: 2, contextLength: 96)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    static func norm(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    @Test func embeddingIsTheUnitMeanOfEveryTokensHiddenState() throws {
        let e = try synthetic()
        // 70 tokens: two chunks of the sequence state, so the mean spans a chunk boundary.
        let tokens: [TokenID] = [2] + (0..<69).map { Int32(260 + $0 % 8) }
        var rows: [[Float]] = []
        try e.model.hiddenStates(tokens, state: e.model.makeState(contextLength: 96, cacheType: .f16)) { i, row in
            #expect(i == rows.count)
            rows.append(Array(row))
        }
        #expect(rows.count == tokens.count && rows[0].count == e.model.config.embeddingWidth)
        let mean = (0..<rows[0].count).map { j in rows.reduce(0.0) { $0 + Double($1[j]) } / Double(rows.count) }
        let length = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let got = try e.embedding(of: tokens)
        #expect(abs(Self.norm(got) - 1) < 1e-5)
        for (g, m) in zip(got, mean) { #expect(abs(Double(g) - m / length) < 1e-5) }
        // Causal: a prefix's hidden states do not depend on the tokens after it.
        var prefix: [[Float]] = []
        try e.model.hiddenStates(Array(tokens[..<10]), state: e.model.makeState(contextLength: 16, cacheType: .f16)) { _, r in prefix.append(Array(r)) }
        for i in 0..<10 { for (a, b) in zip(prefix[i], rows[i]) { #expect(abs(a - b) < 1e-4) } }
    }

    @Test func emptyAndTooLongInputsAreRefused() throws {
        let e = try synthetic()
        #expect(throws: EngineError.emptyPrompt) { try e.embedding(of: []) }
        #expect(throws: InferenceError.contextFull(position: 96, capacity: 96)) { try e.embedding(of: [TokenID](repeating: 260, count: 97)) }
    }

    /// The embedder runs while the scheduler decodes: both give what they give alone.
    @Test func embeddingsBesideGenerationChangeNeither() async throws {
        let e = try synthetic()
        let scheduler = Scheduler(engine: e, slots: 2, queueLimit: 8)
        scheduler.start()
        defer { scheduler.drain() }
        let embedder = Embedder(engine: e)
        var request = GenerationRequest(prompt: [2, 261, 262, 263], maxTokens: 40)
        request.stopAtEndOfGeneration = false
        let inputs: [[TokenID]] = (0..<6).map { (i: Int) -> [TokenID] in
            let body = (0..<(20 + 9 * i)).map { (k: Int) -> TokenID in TokenID(260 + (k * 5 + i) % 8) }
            return [2] + body
        }
        let stream = try scheduler.submit(request)
        async let generated: [TokenID] = {
            var ids: [TokenID] = []
            for try await event in stream { if case .token(let t) = event { ids.append(t.id) } }
            return ids
        }()
        async let embedded = embedder.embed(inputs)
        let (ids, vectors) = try await (generated, embedded)
        let alone = try e.generate(request).tokens.map(\.id)
        #expect(ids == alone)
        for (input, v) in zip(inputs, vectors) {
            let single = try e.embedding(of: input)
            #expect(v == single)
        }
    }

    // MARK: Against llama.cpp's server

    struct Fixture: Decodable {
        struct Request: Decodable {
            var input: Input
            var tokens: [[TokenID]]
            var promptTokens: Int
            var embeddings: [[Float]]
        }
        enum Input: Decodable {
            case one(String), many([String])
            var texts: [String] { switch self { case .one(let s): [s]; case .many(let l): l } }
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .one(s) } else { self = .many(try c.decode([String].self)) }
            }
        }
        var llamaCpp: String
        var command: String
        var requests: [Request]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/embeddings")

    static func ready(_ model: String) -> Bool {
        embeddedModelPath(model) != nil && FileManager.default.fileExists(atPath: fixtures.appendingPathComponent("\(model).json").path)
    }

    @Test(.enabled(if: Needs.runs(ready("smollm2-135m") && ready("gemma3-270m")),
                   "needs .models (make models) and Tests/Fixtures/embeddings (scripts/oracle/embeddings_fixtures.py)"),
          arguments: ["smollm2-135m", "gemma3-270m"])
    func equalLlamaServersEmbeddings(model: String) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let fixture = try decoder.decode(Fixture.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("\(model).json")))
        let e = try Engine(path: try #require(embeddedModelPath(model)), threads: 2, contextLength: 512)
        var least = 1.0
        for request in fixture.requests {
            let texts = request.input.texts
            try #require(texts.count == request.embeddings.count && texts.count == request.tokens.count)
            #expect(request.tokens.reduce(0) { $0 + $1.count } == request.promptTokens)
            for (i, text) in texts.enumerated() {
                let tokens = e.tokenize(text)
                #expect(tokens == request.tokens[i], "\(model): tokens of \(text.debugDescription)")
                let ours = try e.embedding(of: tokens), theirs = request.embeddings[i]
                try #require(ours.count == theirs.count)
                let cos = Self.cosine(ours, theirs)
                least = min(least, cos)
                #expect(cos >= 0.999, "\(model): cosine \(cos) for \(text.prefix(40).debugDescription)")
                #expect(abs(Self.norm(ours) - 1) < 1e-5)
                #expect(abs(Self.norm(theirs) - 1) < 1e-4)  // the server's, rounded to 6 digits
            }
        }
        print("embeddings \(model): least cosine to llama-server \(String(format: "%.6f", least)) over \(fixture.requests.reduce(0) { $0 + $1.embeddings.count }) inputs (\(fixture.llamaCpp))")
    }
}
