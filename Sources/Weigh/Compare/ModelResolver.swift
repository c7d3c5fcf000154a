import Foundation
import GGUF
import Models

public enum CompareError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String, searched: String)
    case badEndpoint(String)
    case badOption(String)
    case tooFewModels
    case measurement(String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let dir):
            "'\(name)' is not a .gguf file, a model in \(dir)/, or a catalog id (catalog: \(ModelCatalog.ids.joined(separator: ", ")))"
        case .badEndpoint(let s):
            "bad endpoint '\(s)': write it as http://HOST:PORT/v1#MODEL (the model name after '#')"
        case .badOption(let s): s
        case .tooFewModels: "compare needs at least two models"
        case .measurement(let s): s
        }
    }
}

/// Turns command-line model names into `ModelResult`s with their facts, weights and fit rows filled in.
public struct ModelResolver: Sendable {
    public var locator: ModelLocator

    public init(locator: ModelLocator = ModelLocator()) { self.locator = locator }

    /// A GGUF path or short name in the models folder is read directly; otherwise a catalog id; an
    /// `http(s)://…#MODEL` argument is an endpoint (its facts come from the catalog when MODEL is a catalog id).
    public func source(of name: String) throws -> ModelSource {
        if name.hasPrefix("http://") || name.hasPrefix("https://") {
            let parts = name.split(separator: "#", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, URL(string: parts[0])?.host != nil else { throw CompareError.badEndpoint(name) }
            return .endpoint(url: parts[0], model: parts[1])
        }
        if let path = try locator.resolveIfPresent(name) { return .file(path: path) }
        if let facts = ModelCatalog.find(name) { return .catalog(id: facts.id) }
        if name.hasSuffix(".gguf") || name.contains("/") {
            _ = try locator.resolve(name)  // throws the locator's "not found" with the paths it tried
        }
        throw CompareError.unknownModel(name, searched: locator.directory)
    }

    /// Facts and weights (per quantization for catalog models, the file's own for GGUF files).
    public func describe(_ name: String, quants: [QuantRecipe]) throws -> ModelResult {
        let source = try source(of: name)
        switch source {
        case .file(let path):
            let file = try GGUFFile(path: path)
            let inspection = ModelInspection(file: file)
            var facts = try ModelFacts(file: file, id: name)
            // A file converted from a catalog model inherits the facts a GGUF does not carry.
            if let known = ModelCatalog.find(name) {
                facts.displayName = known.displayName + " (\(inspection.fileType ?? "file"))"
                if let own = facts.licence, own != known.licence { facts.notes.append("the file's general.license: \(own)") }
                facts.licence = known.licence
                facts.notes.append("catalog entry \(known.id): \(known.source)")
            }
            return ModelResult(label: name, source: source, facts: facts, inspection: inspection, weights: [WeightsSummary(file: file)])
        case .catalog(let id):
            let facts = ModelCatalog.find(id)!
            return ModelResult(label: name, source: source, facts: facts,
                               weights: quants.map { WeightsSummary(estimate: WeightEstimate(facts: facts, recipe: $0)) })
        case .endpoint(_, let model):
            let facts = ModelCatalog.find(model)
            return ModelResult(label: name, source: source, facts: facts,
                               weights: facts.map { f in quants.map { WeightsSummary(estimate: WeightEstimate(facts: f, recipe: $0)) } } ?? [])
        }
    }

    /// Fit rows for every weights variant × hardware at `context` (capped at the model's context length).
    public static func fitRows(_ m: ModelResult, hardware: [Hardware], context: Int, kv: KVCacheElement) -> [FitRow] {
        guard let f = m.facts else { return [] }
        return m.weights.flatMap { w in
            hardware.map { FitCalculator.fit(f, weights: w, hardware: $0, context: min(context, f.contextLength), kv: kv) }
        }
    }
}
