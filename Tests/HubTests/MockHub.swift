import Foundation

/// scripts/mock-hf-hub.py on a free loopback port, with a spec written for one test and its request log.
final class MockHub {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/mock-hf-hub.py").path

    struct Request: Decodable { var method: String; var path: String; var range: String?; var authorization: String? }

    let dir: String
    let process = Process()
    let endpoint: String
    var logPath: String { "\(dir)/requests.jsonl" }

    /// `repos`: repo → file name → bytes; `options`: the spec's other keys (token, drop_after, drop_always, corrupt).
    init(repos: [String: [String: Data]], gated: Set<String> = [], options: [String: Any] = [:]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fw-mockhub-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/files", withIntermediateDirectories: true)
        var specRepos: [String: Any] = [:]
        for (repo, files) in repos {
            var paths: [String: String] = [:]
            for (name, data) in files {
                let path = "\(dir)/files/\(UUID().uuidString)"
                try data.write(to: URL(fileURLWithPath: path))
                paths[name] = path
            }
            specRepos[repo] = ["files": paths, "gated": gated.contains(repo)]
        }
        var spec = options
        spec["repos"] = specRepos
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: "\(dir)/spec.json"))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--spec", "\(dir)/spec.json", "--log", "\(dir)/requests.jsonl"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line is "port N".
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("port "), let port = Int(text.dropFirst(5)) else {
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "mock hub did not start: '\(text)'"])
        }
        endpoint = "http://127.0.0.1:\(port)"
    }

    var requests: [Request] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    /// GETs of file bytes (after the resolve redirect).
    var blobGets: [Request] { requests.filter { $0.method == "GET" && $0.path.hasPrefix("/cdn/") } }

    deinit {
        // SIGKILL: a SIGTERM can be blocked by the signal mask the test runner's thread passes on.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Deterministic bytes that differ per seed.
func bytes(_ count: Int, seed: UInt8) -> Data {
    var state = UInt32(seed) &* 2_654_435_761 &+ 1
    return Data((0..<count).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return UInt8(truncatingIfNeeded: state >> 24)
    })
}
