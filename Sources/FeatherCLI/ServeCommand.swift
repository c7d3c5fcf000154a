import ArgumentParser
import Compute
import Engine
import Foundation
import Logging
import Models
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
    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY'.") var apiKey: String?
    @Option(name: .short, help: "Threads per model (default: physical cores).") var t: Int?
    @Option(name: .customLong("max-body"), help: "Largest request body in bytes.") var maxBody = 8 << 20
    @Flag(help: "Log every request.") var verbose = false

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard ctx >= 8 else { throw ValidationError("--ctx must be at least 8") }
        guard queue >= 0 else { throw ValidationError("--queue must not be negative") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        var served: [ServedModel] = []
        do {
            for name in models {
                let path = try resolveModelPath(name)
                let engine = try Engine(path: path, threads: t ?? ThreadPool.physicalCores, contextLength: ctx)
                served.append(ServedModel(path: path, engine: engine, parallel: parallel, queueLimit: queue))
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
        config.apiKey = apiKey
        config.maxBodyBytes = maxBody
        do {
            try await APIServer(models: served, configuration: config, logger: logger).run()
        } catch {
            throw fail(error)
        }
    }
}
