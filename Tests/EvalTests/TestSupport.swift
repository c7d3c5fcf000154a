import Backends
import Foundation

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let modelsDirectory = ProcessInfo.processInfo.environment["FEATHER_MODELS"] ?? repositoryRoot.appendingPathComponent(".models").path
let dataDirectory = ProcessInfo.processInfo.environment["FEATHER_DATA"] ?? repositoryRoot.appendingPathComponent(".data").path

func embeddedModel(_ name: String) -> String? {
    let path = "\(modelsDirectory)/\(name).gguf"
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// Under `make test` (FEATHER_REQUIRE_FIXTURES=1) a test never skips for a missing model, data file
/// or fixture: it runs and fails on the missing thing. A plain `swift test` skips it, saying why.
enum Needs {
    static let required = ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1"
    /// For `.enabled(if:)`: true when `present`, or when missing things must fail.
    static func runs(_ present: Bool) -> Bool { present || required }
}

func dataFile(_ name: String) -> String? {
    let path = "\(dataDirectory)/\(name)"
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("feather-eval-test-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A backend that records what it was asked: log-likelihood = −(length of the continuation
/// after its first character), so the shortest choice wins; generations echo a fixed answer.
actor RecordingBackend: Backend {
    nonisolated let identity = BackendIdentity(kind: "test", model: "recording", location: "memory")
    nonisolated var parallelism: Int { 1 }
    var contexts: [String] = []
    var prompts: [GenerationInput] = []
    let answer: String

    init(answer: String = "The answer is 42.\n#### 42") { self.answer = answer }

    func loglikelihoods(_ requests: [LoglikelihoodRequest]) async throws -> [LoglikelihoodResult] {
        contexts += requests.map(\.context)
        return requests.map { LoglikelihoodResult(logprob: -Double($0.continuation.count), isGreedy: false, tokens: 1) }
    }

    func generate(_ requests: [GenerationRequestSpec]) async throws -> [String] {
        prompts += requests.map(\.input)
        return requests.map { _ in answer }
    }

    func rollingLoglikelihood(_ text: String, window: Int) async throws -> RollingResult {
        RollingResult(logprob: -Double(text.utf8.count), tokens: text.count / 4 + 1)
    }
}

/// The `feather` executable built beside the test bundle.
var featherExecutable: String? {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let p = candidate.appendingPathComponent("feather").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    let fallback = repositoryRoot.appendingPathComponent(".build/debug/feather").path
    return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
}
