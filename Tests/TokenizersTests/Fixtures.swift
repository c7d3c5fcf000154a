import Foundation
import Tokenizers

/// Where test inputs live: fixtures in the repository, model files in `$FEATHER_MODELS` or `<repo>/.models`.
enum Fixtures {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tokenizerDir = repoRoot.appendingPathComponent("Tests/Fixtures/tokenizer")
    static let modelsDir: URL = {
        if let env = ProcessInfo.processInfo.environment["FEATHER_MODELS"] { return URL(fileURLWithPath: env) }
        return repoRoot.appendingPathComponent(".models")
    }()

    static func modelPath(_ name: String) -> String { modelsDir.appendingPathComponent(name + ".gguf").path }
    static func hasModel(_ name: String) -> Bool { FileManager.default.fileExists(atPath: modelPath(name)) }

    /// Under `make test` (FEATHER_REQUIRE_FIXTURES=1) a test never skips for a missing model, data
    /// file or fixture: it runs and fails on the missing thing. A plain `swift test` skips it, saying why.
    static let required = ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1"
    /// For `.enabled(if:)`: true when `present`, or when missing things must fail.
    static func runs(_ present: Bool) -> Bool { present || required }
    static func hasFixture(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: tokenizerDir.appendingPathComponent(name).path)
    }

    /// One JSON object per line.
    static func jsonLines<T: Decodable>(_ name: String, as: T.Type) throws -> [T] {
        let data = try Data(contentsOf: tokenizerDir.appendingPathComponent(name))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(T.self, from: Data($0)) }
    }

    struct CorpusItem: Decodable {
        let id: Int
        let kind: String
        let text: String
    }

    /// Each model's tokenizer, loaded once for all tests (a 262k-token vocabulary takes seconds in debug builds).
    static let gemma3 = hasModel("gemma3-270m") ? try? Tokenizer(path: modelPath("gemma3-270m")) : nil
    static let smollm2 = hasModel("smollm2-135m") ? try? Tokenizer(path: modelPath("smollm2-135m")) : nil

    static func tokenizer(_ model: String) throws -> Tokenizer {
        switch model {
        case "gemma3-270m": if let t = gemma3 { return t }
        case "smollm2-135m": if let t = smollm2 { return t }
        default: break
        }
        return try Tokenizer(path: modelPath(model))
    }

    static func corpus() throws -> [CorpusItem] { try jsonLines("corpus.jsonl", as: CorpusItem.self) }
}

/// Swift compares strings by canonical equivalence ("é" == "e\u{301}"); tokenizers must not.
func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }
