import AsyncHTTPClient
import Foundation
import ModelStores
import NIOCore

/// One file of a pull and where it now is.
public struct PulledFile: Sendable, Equatable {
    public var file: String
    /// The snapshot's link to the blob.
    public var path: String
    public var size: Int64
    /// False when the cache already held it.
    public var downloaded: Bool
}

/// What `feather pull` fetched.
public struct PullResult: Sendable, Equatable {
    public var repo: String
    public var commit: String
    /// The model's files (every part of a split model, part 1 first).
    public var model: [PulledFile]
    public var projector: PulledFile?
    /// The name `feather` commands know the model by (`OWNER/REPO:TAG`).
    public var name: String
    public var modelPath: String { model[0].path }
    public var downloadedBytes: Int64 { (model + [projector].compactMap { $0 }).filter(\.downloaded).reduce(0) { $0 + $1.size } }
}

/// `feather pull`: lists a repo's files, picks the GGUF by tag, downloads it (and its projector) into the Hugging Face
/// cache with resume and SHA-256 verification, and links the snapshot.
public struct Puller: Sendable {
    public let settings: HubSettings
    /// Free bytes in a directory (statvfs); tests give a small number to check a full disk is refused up front.
    public var freeSpace: @Sendable (String) -> Int64?
    /// Attempts per file when the connection drops mid-file; each resumes where the last stopped.
    public var attempts = 4

    public init(settings: HubSettings, freeSpace: @escaping @Sendable (String) -> Int64? = Puller.freeSpace) {
        (self.settings, self.freeSpace) = (settings, freeSpace)
    }

    /// Free bytes on the file system that holds `directory` (statvfs).
    public static func freeSpace(_ directory: String) -> Int64? { BlobWriter.freeSpace(directory) }

    /// Parses a pull argument; a bare `OWNER/REPO` that is also a file or folder in `directory` is refused as ambiguous.
    public static func reference(_ text: String, relativeTo directory: String = FileManager.default.currentDirectoryPath) throws(HubError) -> RepoReference {
        guard let ref = RepoReference(parsing: text) else { throw .badReference(text) }
        let bare = !text.lowercased().hasPrefix("hf.co/") && !text.contains("huggingface.co/")
        if bare && FileManager.default.fileExists(atPath: "\(directory)/\(text)") { throw .fileAndRepo(name: text) }
        return ref
    }

    public func pull(_ ref: RepoReference, file: String? = nil,
                     progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }) async throws(HubError) -> PullResult {
        if settings.offline { return try fromCache(ref, file: file) }
        let http = HubClient.makeHTTPClient()
        do {
            let result = try await pull(ref, file: file, client: HubClient(settings: settings, http: http), progress: progress)
            try? await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    func pull(_ ref: RepoReference, file: String?, client: HubClient,
              progress: @escaping @Sendable (DownloadProgress) -> Void) async throws(HubError) -> PullResult {
        let info = try await client.repoInfo(ref.repo)
        let choice: GGUFChoice
        do { choice = try GGUFSelection.choose(files: info.siblings.map(\.rfilename), repo: ref.repo, tag: ref.tag, file: file) } catch {
            throw .choice(error)
        }
        var pulled: [PulledFile] = []
        for name in choice.files {
            let sibling = info.siblings.first { $0.rfilename == name }!
            pulled.append(try await fetch(sibling, repo: ref.repo, commit: info.sha, client: client, progress: progress))
        }
        do { try settings.cache.writeRef(repo: ref.repo, commit: info.sha) } catch {
            throw .fileSystem(path: settings.cache.repoFolder(ref.repo), reason: "\(error)")
        }
        let model = Array(pulled.prefix(choice.model.count))
        return PullResult(repo: ref.repo, commit: info.sha, model: model, projector: choice.projector == nil ? nil : pulled.last,
                          name: name(ref.repo, choice.model[0]))
    }

    /// HF_HUB_OFFLINE: the model the reference picks among the files the cache holds for the repo.
    func fromCache(_ ref: RepoReference, file: String?) throws(HubError) -> PullResult {
        let cache = settings.cache
        let files = cache.cachedFiles(repo: ref.repo)
        guard !files.isEmpty else { throw .offlineNotCached(reference: ref.description, cache: cache.root) }
        let commit = cache.ref(repo: ref.repo) ?? ""
        let choice: GGUFChoice
        do { choice = try GGUFSelection.choose(files: Array(files.keys), repo: ref.repo, tag: ref.tag, file: file) } catch {
            throw .offlineNotCached(reference: ref.description, cache: cache.root)
        }
        let pulled = choice.files.map { PulledFile(file: $0, path: files[$0]!, size: BlobWriter.size(files[$0]!), downloaded: false) }
        return PullResult(repo: ref.repo, commit: commit, model: Array(pulled.prefix(choice.model.count)),
                          projector: choice.projector == nil ? nil : pulled.last, name: name(ref.repo, choice.model[0]))
    }

    func name(_ repo: String, _ file: String) -> String {
        GGUFName.quantTag(file).map { "\(repo):\($0)" } ?? "\(repo)/\(GGUFName.modelKey(file))"
    }

    /// One file into `blobs/<sha256>` (skipped when the blob is there at its size), linked from the snapshot.
    func fetch(_ sibling: RepoInfo.Sibling, repo: String, commit: String, client: HubClient,
               progress: @escaping @Sendable (DownloadProgress) -> Void) async throws(HubError) -> PulledFile {
        let cache = settings.cache
        let file = sibling.rfilename
        guard let etag = sibling.etag, let size = sibling.byteCount else {
            throw .badResponse(url: client.resolveURL(repo: repo, revision: commit, file: file), reason: "no size or hash for \(file)")
        }
        let blob = cache.blobPath(repo: repo, etag: etag)
        var downloaded = false
        if BlobWriter.size(blob) != size || !FileManager.default.fileExists(atPath: blob) {
            try await download(sibling, etag: etag, size: size, repo: repo, commit: commit, client: client, progress: progress)
            downloaded = true
        }
        do { try cache.link(repo: repo, commit: commit, file: file, etag: etag) } catch {
            throw .fileSystem(path: cache.snapshotPath(repo: repo, commit: commit, file: file), reason: "\(error)")
        }
        return PulledFile(file: file, path: cache.snapshotPath(repo: repo, commit: commit, file: file), size: size, downloaded: downloaded)
    }

    /// The first byte of a `Content-Range: bytes START-END/TOTAL` answer.
    static func rangeStart(_ contentRange: String) -> Int64? {
        guard contentRange.hasPrefix("bytes "), let dash = contentRange.firstIndex(of: "-") else { return nil }
        return Int64(contentRange[contentRange.index(contentRange.startIndex, offsetBy: 6)..<dash])
    }

    func download(_ sibling: RepoInfo.Sibling, etag: String, size: Int64, repo: String, commit: String, client: HubClient,
                  progress: @escaping @Sendable (DownloadProgress) -> Void) async throws(HubError) {
        let cache = settings.cache
        let file = sibling.rfilename
        let blobs = (cache.blobPath(repo: repo, etag: etag) as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true) } catch {
            throw .fileSystem(path: blobs, reason: "\(error)")
        }
        let partial = cache.incompletePath(repo: repo, etag: etag)
        var have = BlobWriter.size(partial)
        if have > size { have = 0 }
        if let free = freeSpace(blobs), free < size - have {
            throw .diskFull(file: file, needed: size - have, available: free, directory: blobs)
        }
        let url = client.resolveURL(repo: repo, revision: commit, file: file)
        let start = Date()
        let startBytes = have
        var lastReport = Date.distantPast
        var failure = ""
        for _ in 0..<attempts where have < size {
            let response: HTTPClientResponse
            do {
                response = try await client.send(url: url, method: .GET, repo: repo, headers: have > 0 ? [("Range", "bytes=\(have)-")] : [])
            } catch {
                // A connection that fails to open is retried like one that drops mid-file.
                guard error.isNetwork else { throw error }
                failure = error.description
                continue
            }
            // A 200 to a Range request: the server ignored it (huggingface_hub does the same): start again from zero.
            if have > 0 && response.status != .partialContent { have = 0 }
            if have > 0, let range = response.headers.first(name: "Content-Range"), Self.rangeStart(range) != have {
                // A part that does not start where ours ends cannot be appended: fetch the whole file again.
                (have, failure) = (0, "the server answered the range with \(range)")
                continue
            }
            // Opened only once the server answers, so a refused request leaves no file behind.
            let writer = try BlobWriter(path: partial, truncate: have == 0)
            defer { writer.close() }
            do {
                for try await buffer in response.body {
                    try buffer.withUnsafeReadableBytes { bytes in try writer.write(bytes, file: file, remaining: size - have) }
                    have += Int64(buffer.readableBytes)
                    if have > size { break }
                    let now = Date()
                    if now.timeIntervalSince(lastReport) >= 0.2 {
                        lastReport = now
                        progress(DownloadProgress(file: file, received: have, total: size,
                                                  bytesPerSecond: Double(have - startBytes) / max(now.timeIntervalSince(start), 1e-3)))
                    }
                }
            } catch let error as HubError {
                throw error
            } catch {
                failure = "\(error)"
                have = BlobWriter.size(partial)
            }
        }
        guard have >= size else { throw .interrupted(file: file, received: have, total: size, reason: failure.isEmpty ? "connection closed" : failure) }
        progress(DownloadProgress(file: file, received: have, total: size,
                                  bytesPerSecond: Double(have - startBytes) / max(Date().timeIntervalSince(start), 1e-3), done: true))
        guard have == size else {
            try? FileManager.default.removeItem(atPath: partial)
            throw .sizeMismatch(file: file, expected: size, actual: have)
        }
        if let expected = sibling.lfs?.sha256 {
            let actual = try BlobWriter.sha256(partial)
            guard actual == expected.lowercased() else {
                try? FileManager.default.removeItem(atPath: partial)
                throw .checksum(file: file, expected: expected, actual: actual)
            }
        }
        if rename(partial, cache.blobPath(repo: repo, etag: etag)) != 0 {
            throw .fileSystem(path: partial, reason: String(cString: strerror(errno)))
        }
    }
}
