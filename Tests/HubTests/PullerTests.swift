import Crypto
import Foundation
import Models
import ModelStores
import Testing
@testable import Hub

/// `feather pull` against scripts/mock-hf-hub.py on loopback: nothing here reaches the network.
@Suite struct PullerTests {
    static let q4 = bytes(300_000, seed: 1), q8 = bytes(500_000, seed: 2), projector = bytes(40_000, seed: 3)
    static let repo = ["m-Q4_K_M.gguf": q4, "m-Q8_0.gguf": q8, "mmproj-m-f16.gguf": projector, "README.md": Data("hi".utf8)]

    static func sha(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    static func settings(_ hub: MockHub?, token: String? = nil, offline: Bool = false, cache: String? = nil) -> HubSettings {
        HubSettings(endpoint: hub?.endpoint ?? "http://127.0.0.1:9", token: token, offline: offline,
                    cache: HuggingFaceCache(root: cache ?? FileManager.default.temporaryDirectory.appendingPathComponent("fw-hfcache-\(UUID().uuidString)").path))
    }

    /// Every file under the cache's repo folder, relative to it (links shown as `name -> target`).
    static func tree(_ s: HubSettings, _ repo: String) -> [String] {
        let dir = s.cache.repoFolder(repo)
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\(rel)") { out.append("\(rel) -> \(target)") }
            else if (try? FileManager.default.attributesOfItem(atPath: "\(dir)/\(rel)")[.type] as? FileAttributeType) != .typeDirectory { out.append(rel) }
        }
        return out.sorted()
    }

    @Test func picksByQuantTagWithProjectorIntoTheCacheLayout() async throws {
        let hub = try MockHub(repos: ["o/r": Self.repo])
        let s = Self.settings(hub)
        let result = try await Puller(settings: s).pull(RepoReference(repo: "o/r", tag: "q8_0"))
        #expect(result.name == "o/r:Q8_0")
        #expect(result.model.map(\.file) == ["m-Q8_0.gguf"])
        #expect(result.projector?.file == "mmproj-m-f16.gguf")
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.modelPath)) == Self.q8)
        let commit = result.commit
        #expect(s.cache.ref(repo: "o/r") == commit)
        #expect(Self.tree(s, "o/r") == [
            "blobs/\(Self.sha(Self.q8))", "blobs/\(Self.sha(Self.projector))", "refs/main",
            "snapshots/\(commit)/m-Q8_0.gguf -> ../../blobs/\(Self.sha(Self.q8))",
            "snapshots/\(commit)/mmproj-m-f16.gguf -> ../../blobs/\(Self.sha(Self.projector))",
        ].sorted())
        // No tag: Q4_K_M, as llama.cpp's -hf.
        let byDefault = try await Puller(settings: s).pull(RepoReference(repo: "o/r"))
        #expect(byDefault.model.map(\.file) == ["m-Q4_K_M.gguf"])
        // --file names one file.
        let byFile = try await Puller(settings: s).pull(RepoReference(repo: "o/r"), file: "m-Q8_0.gguf")
        #expect(byFile.model.map(\.file) == ["m-Q8_0.gguf"] && !byFile.model[0].downloaded)
        // The pulled model is found by name, as every command resolves names.
        let locator = ModelLocator(directory: "/nonexistent", stores: ModelStores(huggingFace: s.cache))
        #expect(try locator.resolve("o/r:Q8_0") == result.modelPath)
        #expect(try locator.resolve("hf.co/o/r:q4_k_m") == byDefault.modelPath)
    }

    @Test func aSecondPullDownloadsNothing() async throws {
        let hub = try MockHub(repos: ["o/r": Self.repo])
        let s = Self.settings(hub)
        let first = try await Puller(settings: s).pull(RepoReference(repo: "o/r", tag: "Q4_K_M"))
        #expect(first.downloadedBytes == Int64(Self.q4.count + Self.projector.count))
        let gets = hub.blobGets.count
        let second = try await Puller(settings: s).pull(RepoReference(repo: "o/r", tag: "Q4_K_M"))
        #expect(second.downloadedBytes == 0)
        #expect(second == first.withNothingDownloaded)
        #expect(hub.blobGets.count == gets)
    }

    @Test func resumesAfterTheServerDropsTheConnection() async throws {
        let hub = try MockHub(repos: ["o/r": Self.repo], options: ["drop_after": ["m-Q8_0.gguf": 123_456]])
        let s = Self.settings(hub)
        let result = try await Puller(settings: s).pull(RepoReference(repo: "o/r", tag: "Q8_0"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.modelPath)) == Self.q8)
        // The first request has no Range; the next asks for the rest of what arrived (the client may lose the
        // last pieces before the drop). On a loaded machine a slow attempt may add requests, each resuming.
        let ranges = hub.blobGets.filter { $0.path == "/cdn/\(Self.sha(Self.q8))" }.map(\.range)
        #expect(ranges.count >= 2 && ranges[0] == nil, "\(ranges)")
        let resumedAt = ranges.compactMap { $0 }.first.flatMap { Int($0.dropFirst("bytes=".count).dropLast()) } ?? -1
        #expect(resumedAt > 0 && resumedAt <= 123_456, "\(ranges)")
    }

    @Test func anInterruptedPullResumesInTheNextOne() async throws {
        let s: HubSettings
        let partial: Int64
        do {
            let hub = try MockHub(repos: ["o/r": Self.repo], options: ["drop_always": ["m-Q8_0.gguf"]])
            s = Self.settings(hub)
            var puller = Puller(settings: s)
            puller.attempts = 1
            await #expect(throws: HubError.self) { try await puller.pull(RepoReference(repo: "o/r", tag: "Q8_0")) }
            let incomplete = s.cache.incompletePath(repo: "o/r", etag: Self.sha(Self.q8))
            partial = BlobWriter.size(incomplete)
            #expect(partial > 0 && partial <= Int64(Self.q8.count / 2))
            // Nothing under the final names: no blob, no snapshot link.
            #expect(!FileManager.default.fileExists(atPath: s.cache.blobPath(repo: "o/r", etag: Self.sha(Self.q8))))
            #expect(!Self.tree(s, "o/r").contains { $0.hasPrefix("snapshots/") && $0.contains("m-Q8_0") })
        }
        let hub = try MockHub(repos: ["o/r": Self.repo])
        let again = HubSettings(endpoint: hub.endpoint, cache: s.cache)
        let result = try await Puller(settings: again).pull(RepoReference(repo: "o/r", tag: "Q8_0"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.modelPath)) == Self.q8)
        #expect(hub.blobGets.filter { $0.path == "/cdn/\(Self.sha(Self.q8))" }.map(\.range) == ["bytes=\(partial)-"])
    }

    @Test func aWrongChecksumDeletesTheDownload() async throws {
        let hub = try MockHub(repos: ["o/r": Self.repo], options: ["corrupt": ["m-Q4_K_M.gguf"]])
        let s = Self.settings(hub)
        do {
            _ = try await Puller(settings: s).pull(RepoReference(repo: "o/r"))
            Issue.record("a corrupt file was accepted")
        } catch {
            guard case .checksum(let file, let expected, _) = error else { Issue.record("\(error)"); return }
            #expect(file == "m-Q4_K_M.gguf" && expected == Self.sha(Self.q4))
            #expect(error.description.contains("SHA-256"))
        }
        #expect(!Self.tree(s, "o/r").contains { $0.contains(Self.sha(Self.q4)) || $0.contains("m-Q4_K_M") })
    }

    @Test func aFullDiskIsRefusedBeforeDownloading() async throws {
        let hub = try MockHub(repos: ["o/r": Self.repo])
        let s = Self.settings(hub)
        do {
            _ = try await Puller(settings: s, freeSpace: { _ in 1000 }).pull(RepoReference(repo: "o/r"))
            Issue.record("pulled onto a full disk")
        } catch {
            guard case .diskFull(let file, let needed, let available, _) = error else { Issue.record("\(error)"); return }
            #expect(file == "m-Q4_K_M.gguf" && needed == Int64(Self.q4.count) && available == 1000)
        }
        #expect(hub.blobGets.isEmpty)
        #expect(!Self.tree(s, "o/r").contains { $0.hasPrefix("snapshots/") })
    }

    #if os(Linux)
    @Test func writingToAFullDiskIsDiskFull() throws {
        // /dev/full answers every write with ENOSPC.
        let writer = try BlobWriter(path: "/dev/full", truncate: false)
        defer { writer.close() }
        #expect(throws: HubError.diskFull(file: "f.gguf", needed: 4, available: 0, directory: "/dev")) {
            let data = [UInt8](repeating: 1, count: 4)
            try data.withUnsafeBytes { b in try writer.write(b, file: "f.gguf", remaining: 4) }
        }
    }
    #endif

    @Test func offlineUsesTheCacheOnly() async throws {
        let cacheRoot: String
        do {
            let hub = try MockHub(repos: ["o/r": Self.repo])
            let s = Self.settings(hub)
            cacheRoot = s.cache.root
            _ = try await Puller(settings: s).pull(RepoReference(repo: "o/r", tag: "Q8_0"))
        }
        // The endpoint is a closed port: offline must not try it.
        let offline = Self.settings(nil, offline: true, cache: cacheRoot)
        let result = try await Puller(settings: offline).pull(RepoReference(repo: "o/r", tag: "Q8_0"))
        #expect(result.downloadedBytes == 0 && result.name == "o/r:Q8_0" && result.projector?.file == "mmproj-m-f16.gguf")
        await #expect(throws: HubError.offlineNotCached(reference: "o/r:Q4_K_M", cache: cacheRoot)) {
            try await Puller(settings: offline).pull(RepoReference(repo: "o/r", tag: "Q4_K_M"))
        }
        await #expect(throws: HubError.offlineNotCached(reference: "x/y", cache: cacheRoot)) {
            try await Puller(settings: offline).pull(RepoReference(repo: "x/y"))
        }
    }

    @Test func gatedReposNeedTheToken() async throws {
        let hub = try MockHub(repos: ["o/gated": Self.repo], gated: ["o/gated"], options: ["token": "hf_right"])
        let cache = Self.settings(hub).cache.root
        await #expect(throws: HubError.gated(repo: "o/gated", endpoint: hub.endpoint, hasToken: false)) {
            try await Puller(settings: Self.settings(hub, cache: cache)).pull(RepoReference(repo: "o/gated"))
        }
        await #expect(throws: HubError.gated(repo: "o/gated", endpoint: hub.endpoint, hasToken: true)) {
            try await Puller(settings: Self.settings(hub, token: "hf_wrong", cache: cache)).pull(RepoReference(repo: "o/gated"))
        }
        #expect(Self.tree(Self.settings(hub, cache: cache), "o/gated").allSatisfy { !$0.hasPrefix("snapshots/") && !$0.hasSuffix(".incomplete") })
        #expect(HubError.gated(repo: "o/gated", endpoint: "E", hasToken: false).description.contains("accept its licence at E/o/gated and set HF_TOKEN"))
        let result = try await Puller(settings: Self.settings(hub, token: "hf_right", cache: cache)).pull(RepoReference(repo: "o/gated"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.modelPath)) == Self.q4)
        #expect(hub.requests.filter { $0.path.contains("/resolve/") }.last?.authorization == "Bearer hf_right")
    }

    @Test func splitModelsArePulledWhole() async throws {
        let parts = ["big-Q8_0-00001-of-00002.gguf": bytes(70_000, seed: 7), "big-Q8_0-00002-of-00002.gguf": bytes(60_000, seed: 8),
                     "big-Q4_K_M.gguf": bytes(10, seed: 9)]
        let hub = try MockHub(repos: ["o/big": parts])
        let s = Self.settings(hub)
        let result = try await Puller(settings: s).pull(RepoReference(repo: "o/big", tag: "Q8_0"))
        #expect(result.model.map(\.file) == ["big-Q8_0-00001-of-00002.gguf", "big-Q8_0-00002-of-00002.gguf"])
        for f in result.model { #expect(try Data(contentsOf: URL(fileURLWithPath: f.path)) == parts[f.file]) }
        // The name resolves to the first part, beside the second in the snapshot (GGUFFile joins them: SplitModelTests).
        let locator = ModelLocator(directory: "/nonexistent", stores: ModelStores(huggingFace: s.cache))
        #expect(try locator.resolve("o/big:Q8_0") == result.modelPath)
        #expect(result.modelPath.hasSuffix("big-Q8_0-00001-of-00002.gguf"))
        #expect(FileManager.default.fileExists(atPath: result.modelPath.replacingOccurrences(of: "-00001-of-", with: "-00002-of-")))
    }

    @Test func badInputIsAClearError() async throws {
        let hub = try MockHub(repos: ["o/r": Self.repo, "o/nogguf": ["model.safetensors": Data("x".utf8)],
                                      "o/twins": ["a-Q4_K_XL.gguf": Data("1".utf8), "a-UD-Q4_K_XL.gguf": Data("2".utf8)]])
        let s = Self.settings(hub)
        await #expect(throws: HubError.repoNotFound(repo: "o/missing", endpoint: hub.endpoint, hasToken: false)) {
            try await Puller(settings: s).pull(RepoReference(repo: "o/missing"))
        }
        await #expect(throws: HubError.choice(.noGGUF(repo: "o/nogguf"))) {
            try await Puller(settings: s).pull(RepoReference(repo: "o/nogguf"))
        }
        await #expect(throws: HubError.choice(.ambiguous(repo: "o/twins", tag: "Q4_K_XL", candidates: ["a-Q4_K_XL.gguf", "a-UD-Q4_K_XL.gguf"]))) {
            try await Puller(settings: s).pull(RepoReference(repo: "o/twins", tag: "Q4_K_XL"))
        }
        await #expect(throws: HubError.choice(.noMatch(repo: "o/r", tag: "Q2_K", available: ["Q4_K_M", "Q8_0"]))) {
            try await Puller(settings: s).pull(RepoReference(repo: "o/r", tag: "Q2_K"))
        }
        #expect(hub.blobGets.isEmpty)
        for repo in ["o/missing", "o/nogguf", "o/twins", "o/r"] { #expect(!Self.tree(s, repo).contains { $0.hasPrefix("snapshots/") }) }
        // A name that is both a file here and a repo.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fw-pullref-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/o", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: "\(dir)/o/r"))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: HubError.fileAndRepo(name: "o/r")) { try Puller.reference("o/r", relativeTo: dir) }
        #expect(try Puller.reference("hf.co/o/r:Q8_0", relativeTo: dir) == RepoReference(repo: "o/r", tag: "Q8_0"))
        #expect(throws: HubError.badReference("gemma3-270m")) { try Puller.reference("gemma3-270m", relativeTo: dir) }
    }

    @Test func settingsFromTheEnvironment() throws {
        let s = HubSettings.fromEnvironment(["HF_ENDPOINT": "http://mirror.example/", "HF_TOKEN": " hf_x\n", "HF_HUB_OFFLINE": "true",
                                             "HF_HOME": "/hf"], home: "/h")
        #expect(s.endpoint == "http://mirror.example" && s.token == "hf_x" && s.offline && s.cache.root == "/hf/hub")
        let d = HubSettings.fromEnvironment(["HF_HOME": "/nonexistent-hf-home"], home: "/h")
        #expect(d.endpoint == "https://huggingface.co" && d.token == nil && !d.offline)
    }

    @Test func contentRangeStart() {
        #expect(Puller.rangeStart("bytes 123456-499999/500000") == 123_456)
        #expect(Puller.rangeStart("bytes */500000") == nil)
    }

    @Test func progressLine() {
        let p = DownloadProgress(file: "m.gguf", received: 50 << 20, total: 200 << 20, bytesPerSecond: Double(10 << 20))
        #expect(ProgressLine.render(p, width: 10) == "m.gguf  [##--------]   25%  50.0 MiB / 200.0 MiB  10.0 MiB/s  ETA 0:15")
    }
}

extension PullResult {
    var withNothingDownloaded: PullResult {
        var r = self
        r.model = r.model.map { var f = $0; f.downloaded = false; return f }
        r.projector = r.projector.map { var f = $0; f.downloaded = false; return f }
        return r
    }
}
