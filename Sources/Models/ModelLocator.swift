import Foundation
import ModelStores

/// Finds model files: a path, a short name in the models folder (`$FEATHER_MODELS`, else `.models/`), or a model in
/// the Hugging Face cache, Ollama's store or LM Studio's folder (`owner/repo:Q4_K_M`, `gemma3:27b`, ...).
public struct ModelLocator: Sendable {
    /// Models that `scripts/fetch-models.sh` installs, by short name.
    public static let embedded: [(shortName: String, description: String)] = [
        ("gemma3-270m", "Gemma 3 270M base, Q4_K_M"),
        ("smollm2-135m", "SmolLM2-135M-Instruct, Q4_1"),
    ]

    public let directory: String
    public let stores: ModelStores

    public init(directory: String? = nil, stores: ModelStores = .standard()) {
        self.directory = directory ?? ProcessInfo.processInfo.environment["FEATHER_MODELS"] ?? ".models"
        self.stores = stores
    }

    /// The file that `name` refers to: an existing path, `DIR/name.gguf`, `DIR/name`, or a model in a store. A name
    /// that refers to two different files is an error listing both; a split model resolves to its first part.
    public func resolve(_ name: String) throws(ModelError) -> String {
        guard let path = try resolveIfPresent(name) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory), isDirectory.boolValue { throw .isDirectory(name) }
            let explicitPath = Self.isExplicitPath(name)
            let searched = Array(Set(folderCandidates(name))).sorted()
                + (explicitPath ? [] : [stores.huggingFace?.root, stores.ollama?.root].compactMap { $0 } + stores.lmStudio.map(\.root))
            throw .modelNotFound(name: name, searched: searched)
        }
        return path
    }

    /// As `resolve`, but nil when nothing has the name.
    public func resolveIfPresent(_ name: String) throws(ModelError) -> String? {
        var found: [(path: String, place: String, parts: Int)] = []
        if let path = folderCandidates(name).first(where: isFile) {
            found.append((path, path == name ? "file" : StoreKind.modelsFolder.rawValue, Self.splitCount(path)))
        }
        var sameRepo: [StoredModel] = []
        if !Self.isExplicitPath(name) {
            let models = stores.models()
            for m in models where m.matches(name) {
                found.append((m.path, "\(m.kind.rawValue) \(m.name)", m.parts))
            }
            // `OWNER/REPO` without a tag, for a repo that holds several models: say which.
            if let ref = RepoReference(parsing: name), ref.tag == nil {
                sameRepo = models.filter { $0.repo?.lowercased() == ref.repo.lowercased() }
            }
        }
        if found.isEmpty && sameRepo.count > 1 {
            throw .ambiguousModel(name: name, candidates: sameRepo.map { "\($0.name) (\($0.kind.rawValue))" })
        }
        var seen = Set<String>()
        found = found.filter { seen.insert(Self.realPath($0.path)).inserted }
        guard let first = found.first else { return nil }
        guard found.count == 1 else { throw .ambiguousModel(name: name, candidates: found.map { "\($0.path) (\($0.place))" }) }
        // A split model resolves to its first part; GGUFFile(path:) joins the rest as one model.
        return first.path
    }

    private func folderCandidates(_ name: String) -> [String] { [name, "\(directory)/\(name).gguf", "\(directory)/\(name)"] }

    /// A name written as a path is only ever a path: the stores are not asked.
    private static func isExplicitPath(_ name: String) -> Bool {
        name.hasPrefix("/") || name.hasPrefix("./") || name.hasPrefix("../") || name.hasPrefix("~")
    }

    /// The `.gguf` files in the models folder: (short name, path), sorted by name.
    public func localModels() -> [(shortName: String, path: String)] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".gguf") }.sorted().map { (String($0.dropLast(5)), "\(directory)/\($0)") }
    }

    /// Every model found: the models folder's, then each store's.
    public func allModels() -> [StoredModel] {
        localModels().map {
            StoredModel(name: $0.shortName, path: $0.path, kind: .modelsFolder, store: directory, file: ($0.path as NSString).lastPathComponent,
                        parts: Self.splitCount($0.path))
        } + stores.models()
    }

    private func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    private static func splitCount(_ path: String) -> Int { GGUFName.split((path as NSString).lastPathComponent)?.count ?? 1 }

    private static func realPath(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }
}
