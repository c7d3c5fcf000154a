import Foundation
import Models
import ModelStores

/// What a model name given to a command refers to.
public enum ModelSpec: Codable, Sendable, Equatable {
    /// A GGUF file on disk (a path or a short name the locator found).
    case file(path: String)
    /// A catalog id: published configuration only, no weights.
    case catalog(id: String)
    /// An OpenAI-compatible endpoint serving `model`.
    case endpoint(url: String, model: String)

    public var kindName: String {
        switch self {
        case .file: "GGUF file"
        case .catalog: "published configuration"
        case .endpoint: "endpoint"
        }
    }

    public var canRun: Bool { if case .catalog = self { false } else { true } }
}

public enum ModelSpecError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String, searched: String, catalog: [String])
    case badEndpoint(String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let dir, let catalog):
            "'\(name)' is not a .gguf file, a model in \(dir)/, or a catalog id (catalog: \(catalog.joined(separator: ", ")))"
        case .badEndpoint(let s):
            "bad endpoint '\(s)': write it as http://HOST:PORT/v1#MODEL (the model name after '#')"
        }
    }
}

/// The one resolver from a name to a model: a `.gguf` path or short name (found by `ModelLocator` in the
/// models folder and the Hugging Face, Ollama and LM Studio stores), a catalog id, or an endpoint
/// `http(s)://HOST:PORT/v1#MODEL`.
public struct ModelSpecResolver: Sendable {
    public var locator: ModelLocator
    /// The catalog id a name refers to (Weigh's catalog of published configurations), if any.
    public var catalogID: @Sendable (String) -> String?
    /// Every catalog id, for the error that names them.
    public var catalogIDs: [String]

    public init(locator: ModelLocator = ModelLocator(), catalogID: @escaping @Sendable (String) -> String? = { _ in nil },
                catalogIDs: [String] = []) {
        self.locator = locator
        self.catalogID = catalogID
        self.catalogIDs = catalogIDs
    }

    /// The models folder.
    public var directory: String { locator.directory }

    /// Every model found: the models folder's, then each store's (what `feather models` lists).
    public func allModels() -> [StoredModel] { locator.allModels() }

    /// What a model of the models folder is, when it is one `scripts/fetch-models.sh` installs.
    public static func embeddedDescription(_ shortName: String) -> String? {
        ModelLocator.embedded.first { $0.shortName == shortName }?.description
    }

    /// The model file `name` refers to, for commands that run only files.
    public func path(_ name: String) throws -> String { try locator.resolve(name) }

    /// A GGUF path or short name is read directly; otherwise a catalog id; an `http(s)://…#MODEL`
    /// argument is an endpoint.
    public func spec(_ name: String) throws -> ModelSpec {
        if name.hasPrefix("http://") || name.hasPrefix("https://") {
            let parts = name.split(separator: "#", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, URL(string: parts[0])?.host != nil else { throw ModelSpecError.badEndpoint(name) }
            return .endpoint(url: parts[0], model: parts[1])
        }
        if let path = try locator.resolveIfPresent(name) { return .file(path: path) }
        if let id = catalogID(name) { return .catalog(id: id) }
        if name.hasSuffix(".gguf") || name.contains("/") {
            _ = try locator.resolve(name)  // throws the locator's "not found" with the paths it tried
        }
        throw ModelSpecError.unknownModel(name, searched: locator.directory, catalog: catalogIDs)
    }
}
