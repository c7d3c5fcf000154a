import ArgumentParser
import Backends
import Foundation
import Logging
import Server

/// `feather serve`: the OpenAI-compatible HTTP API with continuous batching.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve models over an OpenAI-compatible HTTP API.")

    @Argument(help: "One or more .gguf paths or model short names; requests choose one by its `model` field.") var models: [String]
    @Option(help: "Address to bind (loopback by default).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "Sequences per model that decode together in one batch step.") var parallel = 4
    @Option(help: "Requests per model that may wait for a slot; more get 429.") var queue = 64
    @Option(help: "Context length of each sequence, in tokens.") var ctx = 4096
    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' (visible in ps: prefer --api-key-file or FEATHER_API_KEY).") var apiKey: String?
    @Option(name: .customLong("api-key-file"), help: "Read the API key from this file (first line).") var apiKeyFile: String?
    @Option(help: "Seconds a connection may stay silent while no request of it is answered (idle keep-alive, unfinished headers) before it is closed.") var timeout = 60
    @Option(name: .short, help: "Threads per model (default: physical cores).") var t: Int?
    @Option(name: .customLong("max-body"), help: "Largest request body in bytes.") var maxBody = 8 << 20
    @Flag(help: "Log every request.") var verbose = false

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        try CommonOptions.checkContext(ctx)
        try CommonOptions.checkThreads(t)
        guard queue >= 0 else { throw ValidationError("--queue must not be negative") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second") }
        if apiKey != nil && apiKeyFile != nil { throw ValidationError("give --api-key or --api-key-file, not both") }
        _ = try resolvedAPIKey()
    }

    /// --api-key, else the first line of --api-key-file, else $FEATHER_API_KEY; nil: no key needed.
    func resolvedAPIKey() throws -> String? {
        var key = apiKey
        if let apiKeyFile {
            let text = try CommonOptions.readText(apiKeyFile)
            key = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        } else if key == nil, let env = ProcessInfo.processInfo.environment["FEATHER_API_KEY"] {
            key = env.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let key, key.isEmpty || key.contains(where: { $0.isWhitespace }) {
            throw ValidationError("the API key must be non-empty and contain no spaces")
        }
        return key
    }

    func run() async throws {
        var served: [ServedModel] = []
        do {
            for name in models {
                served.append(try BackendFactory.servedModel(path: try resolveModelPath(name),
                                                             options: LocalModelOptions(threads: t, contextLength: ctx, sequences: parallel),
                                                             queueLimit: queue, warning: CommonOptions.warn))
            }
        } catch {
            throw fail(error)
        }
        let ids = served.map(\.id)
        if Set(ids).count != ids.count { throw fail(ValidationError("two models share the name \(ids)")) }
        var logger = Logger(label: "feather.serve")
        logger.logLevel = verbose ? .debug : .notice
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.apiKey = try resolvedAPIKey()
        config.maxBodyBytes = maxBody
        config.idleTimeout = .seconds(timeout)
        do {
            try await APIServer(models: served, configuration: config, logger: logger).run()
        } catch {
            throw fail(error)
        }
    }
}
