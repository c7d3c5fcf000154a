import Foundation

/// Finds model files: a path, or a short name in the models folder (`$FEATHER_MODELS`, else `.models/`).
public struct ModelLocator: Sendable {
    /// Models that `scripts/fetch-models.sh` installs, by short name.
    public static let embedded: [(shortName: String, description: String)] = [
        ("gemma3-270m", "Gemma 3 270M base, Q4_K_M"),
        ("smollm2-135m", "SmolLM2-135M-Instruct, Q4_1"),
    ]

    public let directory: String

    public init(directory: String? = nil) {
        self.directory = directory ?? ProcessInfo.processInfo.environment["FEATHER_MODELS"] ?? ".models"
    }

    /// The file that `name` refers to: an existing path, else `DIR/name.gguf`, else `DIR/name`.
    public func resolve(_ name: String) throws(ModelError) -> String {
        let candidates = [name, "\(directory)/\(name).gguf", "\(directory)/\(name)"]
        var isDirectory: ObjCBool = false
        for path in candidates where FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue {
            return path
        }
        throw .modelNotFound(name: name, searched: Array(Set(candidates)).sorted())
    }

    /// The `.gguf` files in the models folder: (short name, path), sorted by name.
    public func localModels() -> [(shortName: String, path: String)] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".gguf") }.sorted().map { (String($0.dropLast(5)), "\(directory)/\($0)") }
    }
}
