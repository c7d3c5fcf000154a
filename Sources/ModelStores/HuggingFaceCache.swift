import Foundation

/// The Hugging Face cache, laid out as huggingface_hub lays it out (file_download.py), so llama.cpp, transformers
/// and Featherweight share one copy of each file:
/// `models--OWNER--REPO/blobs/<sha256>` (the bytes), `snapshots/<commit>/<file>` (a relative symlink to the blob),
/// `refs/main` (the commit `main` pointed to).
public struct HuggingFaceCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`
    /// (huggingface_hub constants.py).
    public static func root(environment: [String: String], home: String) -> String {
        if let cache = environment["HF_HUB_CACHE"], !cache.isEmpty { return cache }
        if let hfHome = environment["HF_HOME"], !hfHome.isEmpty { return "\(hfHome)/hub" }
        let xdg = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(home)/.cache"
        return "\(xdg)/huggingface/hub"
    }

    /// `models--OWNER--REPO` (huggingface_hub repo_folder_name).
    public func repoFolder(_ repo: String) -> String {
        "\(root)/" + (["models"] + repo.split(separator: "/").map(String.init)).joined(separator: "--")
    }

    public func blobPath(repo: String, etag: String) -> String { "\(repoFolder(repo))/blobs/\(etag)" }

    /// Where a download in progress is written; only a verified file is renamed to its blob.
    public func incompletePath(repo: String, etag: String) -> String { blobPath(repo: repo, etag: etag) + ".incomplete" }

    public func snapshotPath(repo: String, commit: String, file: String) -> String {
        "\(repoFolder(repo))/snapshots/\(commit)/\(file)"
    }

    /// The commit a ref (`main`) pointed to when last seen.
    public func ref(repo: String, name: String = "main") -> String? {
        guard let text = try? String(contentsOfFile: "\(repoFolder(repo))/refs/\(name)", encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    public func writeRef(repo: String, name: String = "main", commit: String) throws {
        let dir = "\(repoFolder(repo))/refs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = "\(dir)/.\(name).\(UUID().uuidString).tmp"
        try Data(commit.utf8).write(to: URL(fileURLWithPath: tmp))
        if rename(tmp, "\(dir)/\(name)") != 0 {
            try? FileManager.default.removeItem(atPath: tmp)
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// Links `snapshots/<commit>/<file>` to its blob with a relative symlink, replacing an older link.
    public func link(repo: String, commit: String, file: String, etag: String) throws {
        let link = snapshotPath(repo: repo, commit: commit, file: file)
        try FileManager.default.createDirectory(atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: 2 + depth) + "blobs/\(etag)"
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target { return }
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    }

    /// The repo's files that are present (their blob exists), from the snapshot `main` points to, then from other
    /// snapshots for names not seen yet: file → path of the snapshot link.
    public func cachedFiles(repo: String) -> [String: String] {
        let snapshots = "\(repoFolder(repo))/snapshots"
        var commits = Listing.entries(snapshots)
        if let main = ref(repo: repo), let i = commits.firstIndex(of: main) { commits.insert(commits.remove(at: i), at: 0) }
        var files: [String: String] = [:]
        for commit in commits {
            for file in Listing.files(under: "\(snapshots)/\(commit)") where files[file] == nil {
                files[file] = "\(snapshots)/\(commit)/\(file)"
            }
        }
        return files
    }

    /// The repos in the cache (`models--OWNER--REPO` folders).
    public func repos() -> [String] {
        Listing.entries(root).filter { $0.hasPrefix("models--") }.compactMap { folder in
            let parts = folder.split(separator: "--", omittingEmptySubsequences: false).dropFirst()
            return parts.count == 2 ? parts.joined(separator: "/") : nil
        }
    }

    /// Every GGUF model in the cache, one per model (split models by their first part).
    public func models() -> [StoredModel] {
        repos().flatMap { repo -> [StoredModel] in
            let files = cachedFiles(repo: repo)
            let groups = GGUFSelection.models(in: Array(files.keys))
            return groups.map { parts in
                let names = StoredModel.repoNames(repo: repo, parts: parts, soleModel: groups.count == 1)
                return StoredModel(name: names.name, aliases: names.aliases, path: files[parts[0]]!, kind: .huggingFace,
                                   store: root, repo: repo, file: parts[0], parts: GGUFName.split(parts[0])?.count ?? 1,
                                   projector: GGUFSelection.projector(in: Array(files.keys), for: parts[0]).flatMap { files[$0] })
            }
        }
    }
}
