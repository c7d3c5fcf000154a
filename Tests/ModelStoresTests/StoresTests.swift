import Foundation
import GGUF
import Models
import Testing
@testable import ModelStores

/// The Hugging Face cache, Ollama and LM Studio layouts, built in a temporary home from the embedded models
/// (symlinks to `.models/*.gguf`, fetched by scripts/fetch-models.sh).
@Suite struct StoresTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func embedded(_ name: String) throws -> String {
        let path = "\(root)/.models/\(name).gguf"
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run scripts/fetch-models.sh")
        return path
    }

    /// A fake home with all three stores: smollm2 in the HF cache (as Q4_1 of a repo that also holds a split F16)
    /// and in Ollama, gemma3 in LM Studio.
    static func makeHome() throws -> (home: String, env: [String: String]) {
        let fm = FileManager.default
        let home = fm.temporaryDirectory.appendingPathComponent("fw-stores-\(UUID().uuidString)").path
        let smol = try embedded("smollm2-135m"), gemma = try embedded("gemma3-270m")
        let sha = String(repeating: "ab", count: 32), commit = String(repeating: "c", count: 40)
        // Hugging Face cache (huggingface_hub layout): the blob, the snapshot's relative link, refs/main.
        let repoDir = "\(home)/hf/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
        try fm.createDirectory(atPath: "\(repoDir)/blobs", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: "\(repoDir)/blobs/\(sha)", withDestinationPath: smol)
        let cache = HuggingFaceCache(root: "\(home)/hf/hub")
        try cache.link(repo: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", commit: commit, file: "smollm2-135m-instruct-q4_1.gguf", etag: sha)
        try cache.writeRef(repo: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", commit: commit)
        for part in 1...2 {
            let blob = "\(repoDir)/blobs/part\(part)"
            try Data("part".utf8).write(to: URL(fileURLWithPath: blob))
            try cache.link(repo: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", commit: commit,
                           file: "F16/smollm2-135m-instruct-f16-0000\(part)-of-00002.gguf", etag: "part\(part)")
        }
        // Ollama: a manifest whose model layer's digest names the blob.
        let ollama = "\(home)/.ollama/models"
        try fm.createDirectory(atPath: "\(ollama)/blobs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(ollama)/manifests/registry.ollama.ai/library/smollm2", withIntermediateDirectories: true)
        let digest = String(repeating: "0f", count: 32)
        try fm.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(digest)", withDestinationPath: smol)
        let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:\#(digest)","size":1},{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:\#(sha)","size":1}]}"#
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: "\(ollama)/manifests/registry.ollama.ai/library/smollm2/135m"))
        // LM Studio: PUBLISHER/REPO/*.gguf.
        let lms = "\(home)/.lmstudio/models/lmstudio-community/gemma-3-270m-GGUF"
        try fm.createDirectory(atPath: lms, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: "\(lms)/gemma-3-270m-Q4_K_M.gguf", withDestinationPath: gemma)
        return (home, ["HF_HOME": "\(home)/hf"])
    }

    @Test func everyStoreIsListedWithItsNames() throws {
        let (home, env) = try Self.makeHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let models = ModelStores.standard(environment: env, home: home).models()
        let rows = models.map { "\($0.kind.rawValue)|\($0.name)|\($0.parts)" }
        #expect(rows == [
            "hugging face cache|HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:f16|2",
            "hugging face cache|HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:q4_1|1",
            "ollama|smollm2:135m|1",
            "lm studio|lmstudio-community/gemma-3-270m-GGUF:Q4_K_M|1",
        ])
        #expect(models[1].path.hasSuffix("/snapshots/\(String(repeating: "c", count: 40))/smollm2-135m-instruct-q4_1.gguf"))
        #expect(models[3].aliases.contains("lmstudio-community/gemma-3-270m-GGUF"))
    }

    @Test func namesResolveToLoadableModels() throws {
        let (home, env) = try Self.makeHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let locator = ModelLocator(directory: "\(home)/empty", stores: .standard(environment: env, home: home))
        for (name, arch) in [("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1", "llama"), ("hf.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:q4_1", "llama"),
                             ("smollm2:135m", "llama"), ("lmstudio-community/gemma-3-270m-GGUF", "gemma3"),
                             ("lmstudio-community/gemma-3-270m-GGUF:q4_k_m", "gemma3")] {
            let path = try locator.resolve(name)
            #expect(try GGUFFile(path: path).architecture == arch, "\(name)")
        }
    }

    @Test func ambiguousNamesAreErrorsAndSplitNamesResolveToTheFirstPart() throws {
        let (home, env) = try Self.makeHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let locator = ModelLocator(directory: "\(home)/empty", stores: .standard(environment: env, home: home))
        // The repo holds two models: its bare name picks neither.
        #expect(throws: ModelError.ambiguousModel(name: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", candidates: [
            "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:f16 (hugging face cache)", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:q4_1 (hugging face cache)",
        ])) { try locator.resolve("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF") }
        // A split model resolves to its first part (GGUFFile joins the others: SplitModelTests).
        #expect(try locator.resolve("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:F16").hasSuffix("smollm2-135m-instruct-f16-00001-of-00002.gguf"))
        // The same name in the models folder and in Ollama, as two different files: both are listed.
        try FileManager.default.createDirectory(atPath: "\(home)/folder", withIntermediateDirectories: true)
        try Data("not the same file".utf8).write(to: URL(fileURLWithPath: "\(home)/folder/smollm2:135m.gguf"))
        let other = ModelLocator(directory: "\(home)/folder", stores: .standard(environment: env, home: home))
        do {
            _ = try other.resolve("smollm2:135m")
            Issue.record("an ambiguous name resolved")
        } catch {
            guard case .ambiguousModel(_, let candidates) = error else { Issue.record("\(error)"); return }
            #expect(candidates.count == 2)
            #expect(candidates.contains { $0.contains("(ollama smollm2:135m)") })
            #expect(candidates.contains { $0.contains("(models folder)") })
        }
        // A path is a path: the stores are not asked.
        #expect(try other.resolve("\(home)/folder/smollm2:135m.gguf") == "\(home)/folder/smollm2:135m.gguf")
    }

    @Test func huggingFaceCacheRootFollowsTheEnvironment() {
        #expect(HuggingFaceCache.root(environment: ["HF_HUB_CACHE": "/c"], home: "/h") == "/c")
        #expect(HuggingFaceCache.root(environment: ["HF_HOME": "/hf"], home: "/h") == "/hf/hub")
        #expect(HuggingFaceCache.root(environment: ["XDG_CACHE_HOME": "/x"], home: "/h") == "/x/huggingface/hub")
        #expect(HuggingFaceCache.root(environment: [:], home: "/h") == "/h/.cache/huggingface/hub")
        #expect(HuggingFaceCache(root: "/c").repoFolder("o/r") == "/c/models--o--r")
    }
}
