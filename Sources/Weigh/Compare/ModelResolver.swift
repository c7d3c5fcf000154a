import Backends
import Foundation
import GGUF
import Models

public enum CompareError: Error, CustomStringConvertible, Equatable {
    case badOption(String)
    case tooFewModels
    case measurement(String)

    public var description: String {
        switch self {
        case .badOption(let s): s
        case .tooFewModels: "compare needs at least two models"
        case .measurement(let s): s
        }
    }
}

extension ModelSpecResolver {
    /// The resolver that also knows the catalog's published configurations.
    public static func withCatalog(locator: ModelLocator = ModelLocator()) -> ModelSpecResolver {
        ModelSpecResolver(locator: locator, catalogID: { ModelCatalog.find($0)?.id }, catalogIDs: ModelCatalog.ids)
    }
}

/// Turns command-line model names into `ModelResult`s with their facts, weights and fit rows filled in.
public struct ModelResolver: Sendable {
    public var resolver: ModelSpecResolver

    public init(resolver: ModelSpecResolver = .withCatalog()) { self.resolver = resolver }

    /// Facts and weights (per quantization for catalog models, the file's own for GGUF files).
    public func describe(_ name: String, quants: [QuantRecipe]) throws -> ModelResult {
        let source = try resolver.spec(name)
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
