import Engine
import Foundation

/// The repository root (this file is Tests/BackendsTests/TestSupport.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Where the embedded models live: `$FEATHER_MODELS`, else `<repo>/.models`.
let modelsDirectory = ProcessInfo.processInfo.environment["FEATHER_MODELS"] ?? repositoryRoot.appendingPathComponent(".models").path

func embeddedModel(_ name: String) -> String? {
    let path = "\(modelsDirectory)/\(name).gguf"
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

enum LoadError: Error { case missing(String) }

/// An embedded model in the engine (2 threads, 512 tokens of context); a missing model throws.
func embeddedEngine(_ name: String) throws -> Engine {
    guard let path = embeddedModel(name) else { throw LoadError.missing("\(name): run scripts/fetch-models.sh") }
    return try Engine(path: path, threads: 2, contextLength: 512)
}

/// Under `make test` (FEATHER_REQUIRE_FIXTURES=1) a test never skips for a missing model, data file
/// or fixture: it runs and fails on the missing thing. A plain `swift test` skips it, saying why.
enum Needs {
    static let required = ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1"
    /// For `.enabled(if:)`: true when `present`, or when missing things must fail.
    static func runs(_ present: Bool) -> Bool { present || required }
}

/// The Python stdlib fake OpenAI server (Tests/Fixtures/eval/fake_openai_server.py), on an ephemeral loopback port.
final class FakeServer {
    let process = Process()
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    init(_ flags: [String] = []) throws {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("fake-openai-\(UUID().uuidString).port").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot.appendingPathComponent("Tests/Fixtures/eval/fake_openai_server.py").path, portFile] + flags
        try process.run()
        var port: Int?
        for _ in 0..<500 {
            if let s = try? String(contentsOfFile: portFile, encoding: .utf8), let p = Int(s) { port = p; break }
            usleep(20_000)
        }
        try? FileManager.default.removeItem(atPath: portFile)
        guard let port else { kill(process.processIdentifier, SIGKILL); throw CocoaError(.fileReadNoSuchFile) }
        self.port = port
    }

    /// Requests served and the most in flight at once.
    func stats() throws -> [String: Int] {
        // Foundation on Linux does not read http URLs with Data(contentsOf:): ask python3, which runs the server.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
                       url + "/stats"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        for _ in 0..<500 where p.isRunning { usleep(10_000) }
        return try JSONDecoder().decode([String: Int].self, from: data)
    }

    deinit {
        // SIGKILL: a child spawned from a dispatch thread inherits its blocked SIGTERM, and waitUntilExit()
        // would then wait forever. Foundation's monitor thread reaps the child; poll for that, 5 s at most.
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
    }
}
