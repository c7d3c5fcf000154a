import Foundation

/// Where a model file lives.
public enum StoreKind: String, Sendable, Codable, CaseIterable {
    case modelsFolder = "models folder"
    case huggingFace = "hugging face cache"
    case ollama = "ollama"
    case lmStudio = "lm studio"
}

/// A GGUF model found in a store, with the names that refer to it.
public struct StoredModel: Sendable, Equatable {
    /// The name `feather models` shows and every command accepts.
    public var name: String
    /// Other names that refer to it (`owner/repo` when the repo holds one model, `name` for `name:latest`, ...).
    public var aliases: [String]
    /// The model's file (its first part when split); for the Hugging Face cache, the snapshot's symlink.
    public var path: String
    public var kind: StoreKind
    /// The store's folder.
    public var store: String
    /// The repo (`owner/repo`) for stores that keep Hugging Face repos; a `REPO:TAG` name is matched by tag.
    public var repo: String?
    /// The file within the repo.
    public var file: String
    /// Number of parts of a split GGUF (1 for a whole file).
    public var parts: Int = 1
    /// The repo's projector file, if it has one.
    public var projector: String?

    public init(name: String, aliases: [String] = [], path: String, kind: StoreKind, store: String, repo: String? = nil,
                file: String, parts: Int = 1, projector: String? = nil) {
        (self.name, self.aliases, self.path, self.kind, self.store, self.repo, self.file, self.parts, self.projector) =
            (name, aliases, path, kind, store, repo, file, parts, projector)
    }

    /// Whether `query` names this model: its name or an alias (case-insensitive), or `[hf.co/]REPO:TAG` of its repo
    /// with a tag that matches its file as `feather pull` matches tags.
    public func matches(_ query: String) -> Bool {
        let q = query.lowercased()
        if name.lowercased() == q || aliases.contains(where: { $0.lowercased() == q }) { return true }
        guard let repo, let ref = RepoReference(parsing: query), let tag = ref.tag else { return false }
        return ref.repo.lowercased() == repo.lowercased() && GGUFName.matches(tag: tag, file: file)
    }

    /// Names for a model of a Hugging Face-style repo: `repo:TAG` (or `repo/FILE` without a tag), `hf.co/...`,
    /// `repo` alone when it is the repo's only model, and `repo/FILE`.
    static func repoNames(repo: String, parts: [String], soleModel: Bool) -> (name: String, aliases: [String]) {
        let file = parts[0]
        let stem = GGUFName.modelKey(file)
        let byFile = "\(repo)/\(stem)"
        var aliases = ["\(repo)/\(file)", byFile]
        let name: String
        if let tag = GGUFName.quantTag(file) {
            name = "\(repo):\(tag)"
            aliases.append("hf.co/\(repo):\(tag)")
        } else {
            name = byFile
        }
        if soleModel { aliases += [repo, "hf.co/\(repo)"] }
        return (name, Array(Set(aliases).subtracting([name])).sorted())
    }
}

/// A model reference as `feather pull` takes it: `OWNER/REPO[:TAG]`, `hf.co/OWNER/REPO[:TAG]`,
/// `https://huggingface.co/OWNER/REPO[:TAG]`.
public struct RepoReference: Sendable, Equatable {
    public var repo: String
    public var tag: String?

    public init(repo: String, tag: String? = nil) { (self.repo, self.tag) = (repo, tag) }

    public init?(parsing text: String) {
        var s = Substring(text)
        for prefix in ["https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"] where s.lowercased().hasPrefix(prefix) {
            s = s.dropFirst(prefix.count)
        }
        var tag: String?
        if let colon = s.lastIndex(of: ":") {
            tag = String(s[s.index(after: colon)...])
            s = s[..<colon]
            if tag!.isEmpty { return nil }
        }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") && $0.unicodeScalars.allSatisfy(allowed.contains) }),
              !s.lowercased().hasSuffix(".gguf") else { return nil }
        self.repo = String(s)
        self.tag = tag
    }

    public var description: String { tag.map { "\(repo):\($0)" } ?? repo }
}

/// Every store Featherweight looks in besides the models folder, from the environment as the tools that own
/// them read it.
public struct ModelStores: Sendable {
    public var huggingFace: HuggingFaceCache?
    public var ollama: OllamaStore?
    public var lmStudio: [LMStudioStore]

    public init(huggingFace: HuggingFaceCache? = nil, ollama: OllamaStore? = nil, lmStudio: [LMStudioStore] = []) {
        (self.huggingFace, self.ollama, self.lmStudio) = (huggingFace, ollama, lmStudio)
    }

    /// The stores at their usual places: `$HF_HUB_CACHE` / `$HF_HOME/hub` / `~/.cache/huggingface/hub`,
    /// `$OLLAMA_MODELS` / `~/.ollama/models`, `~/.lmstudio/models` and `~/.cache/lm-studio/models`.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment,
                                home: String = NSHomeDirectory()) -> ModelStores {
        ModelStores(huggingFace: HuggingFaceCache(root: HuggingFaceCache.root(environment: environment, home: home)),
                    ollama: OllamaStore(root: environment["OLLAMA_MODELS"] ?? "\(home)/.ollama/models"),
                    lmStudio: ["\(home)/.lmstudio/models", "\(home)/.cache/lm-studio/models"].map(LMStudioStore.init(root:)))
    }

    /// No stores: only paths and the models folder.
    public static let none = ModelStores()

    /// Every model found, by store then name.
    public func models() -> [StoredModel] {
        (huggingFace?.models() ?? []) + (ollama?.models() ?? []) + lmStudio.flatMap { $0.models() }
    }
}

/// Directory listing helpers shared by the stores.
enum Listing {
    static func entries(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Whether `path` is (or links to) a regular file.
    static func isFile(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// Files under `dir`, as paths relative to it, following no links to directories.
    static func files(under dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            if isFile("\(dir)/\(rel)") { out.append(rel) }
        }
        return out.sorted()
    }
}
