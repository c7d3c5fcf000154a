import Engine
import Foundation
import Models
import Server

/// How the built-in engine runs a model file.
public struct LocalModelOptions: Sendable {
    /// Threads of the forward pass; nil: `Engine.defaultThreads`.
    public var threads: Int?
    /// Tokens per sequence; nil: the model's context, at most 4096 (Engine's default).
    public var contextLength: Int?
    public var cacheType: KVCacheType
    /// Sequences decoded together: their KV caches must fit in memory together.
    public var sequences: Int
    /// A Jinja chat template file used instead of the model's.
    public var chatTemplateFile: String?

    public init(threads: Int? = nil, contextLength: Int? = nil, cacheType: KVCacheType = Engine.defaultCacheType, sequences: Int = 1,
                chatTemplateFile: String? = nil) {
        self.threads = threads
        self.contextLength = contextLength
        self.cacheType = cacheType
        self.sequences = sequences
        self.chatTemplateFile = chatTemplateFile
    }

    /// As above with the KV cache type given by name (f16, f32); nil for another name.
    public init?(threads: Int?, contextLength: Int?, cacheTypeName: String) {
        guard let cacheType = KVCacheType(rawValue: cacheTypeName) else { return nil }
        self.init(threads: threads, contextLength: contextLength, cacheType: cacheType)
    }

    public var resolvedThreads: Int { threads ?? Engine.defaultThreads }
}

/// The one way from a model to something that answers: an `Engine` for a file, a `Backend` for any spec.
public enum BackendFactory {
    /// Loads a model file into the engine. Throws when the KV caches of `options.sequences`
    /// sequences do not fit in this machine's memory; `warning` hears a context longer than the model was trained for.
    public static func engine(path: String, options: LocalModelOptions, warning: (String) -> Void = { _ in }) throws -> Engine {
        let engine = try Engine(path: path, threads: options.resolvedThreads, contextLength: options.contextLength,
                                cacheType: options.cacheType)
        if options.sequences > 1 { try engine.checkMemory(sequences: options.sequences) }
        if let message = engine.trainingContextWarning { warning(message) }
        return engine
    }

    /// A model file in the built-in engine for `run`, `chat` and `perplexity`; throws and warns as `engine(path:options:warning:)`.
    public static func localModel(path: String, options: LocalModelOptions, warning: (String) -> Void = { _ in }) throws -> LocalModel {
        LocalModel(engine: try engine(path: path, options: options, warning: warning))
    }

    /// A model file for `feather serve`: `options.sequences` requests decode together, `queueLimit` more may wait.
    public static func servedModel(path: String, options: LocalModelOptions, queueLimit: Int, warning: (String) -> Void = { _ in }) throws -> ServedModel {
        ServedModel(path: path, engine: try engine(path: path, options: options, warning: warning), parallel: options.sequences, queueLimit: queueLimit)
    }

    /// The built-in engine for a file (`options.sequences` generations decode together), an OpenAI
    /// client for an endpoint; a catalog entry has nothing to run.
    public static func backend(for spec: ModelSpec, options: LocalModelOptions = LocalModelOptions(), apiKey: String? = nil,
                               concurrency: Int = 1, warning: (String) -> Void = { _ in }) throws -> any Backend {
        switch spec {
        case .file(let path):
            let engine = try engine(path: path, options: options, warning: warning)
            return LocalBackend(engine: engine, modelPath: path, chatTemplateFile: options.chatTemplateFile, batchSize: options.sequences)
        case .endpoint(let url, let model):
            return backend(endpoints: [url], model: model, apiKey: apiKey, concurrency: concurrency)
        case .catalog(let id):
            throw BackendError.noWeights(model: id)
        }
    }

    /// An OpenAI-compatible client sharing its requests between `endpoints`.
    public static func backend(endpoints: [String], model: String, apiKey: String?, concurrency: Int) -> any Backend {
        OpenAIBackend(endpoints: endpoints, model: model, apiKey: apiKey, concurrency: concurrency)
    }
}
