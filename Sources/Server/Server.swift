import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore

public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// When set, every endpoint but /health needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Larger request bodies get 413.
    public var maxBodyBytes = 8 << 20
    /// A connection that sends nothing for this long while no request of it is being answered
    /// (idle keep-alive, or headers that never finish) is closed.
    public var idleTimeout: Duration = .seconds(60)
    public init() {}
}

/// The OpenAI-compatible HTTP API over one or more engines (routes declared in `routes()`).
public final class APIServer: Sendable {
    public let models: [ServedModel]
    public let configuration: ServerConfiguration
    let metrics = Metrics()
    let logger: Logger

    public init(models: [ServedModel], configuration: ServerConfiguration, logger: Logger) {
        self.models = models
        self.configuration = configuration
        self.logger = logger
    }

    /// Serves until SIGINT or SIGTERM; then stops accepting connections, lets the requests in
    /// flight finish, and stops the schedulers.
    public func run() async throws {
        for m in models { m.scheduler.start() }
        let seconds = configuration.idleTimeout.components.seconds
        let app = Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(max(1, seconds)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "featherweight"),
            onServerRunning: { [logger, configuration, models] channel in
                let port = channel.localAddress?.port ?? configuration.port
                logger.notice("feather serve: listening on http://\(configuration.host):\(port) with \(models.map(\.id).joined(separator: ", "))")
            },
            logger: logger)
        try await app.runService()
        for m in models { m.scheduler.drain() }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AuthMiddleware(apiKey: configuration.apiKey))
        router.addRoutes(routes())
        // Added after the routes, so it wraps only the router's not-found responder (Hummingbird applies a
        // middleware to the routes added after it); the routes' methods come from the router itself.
        var allowed: [String: [String]] = [:]
        for route in router.routes {
            let path = route.path.description
            allowed[path.hasPrefix("/") ? path : "/" + path, default: []].append(route.method.rawValue)
        }
        router.add(middleware: ErrorShapeMiddleware(allowed: allowed))
        return router
    }

    /// Runs `operation` until it ends or the client closes its side of the connection; then the
    /// operation is cancelled, which ends the generation stream it awaits and so frees the
    /// request's slot (or its queue place) at once. The connection is not reused afterwards.
    /// `request` must come from `decode` (its body collected), once per request.
    static func whileConnected<T: Sendable>(_ request: Request, _ operation: () async throws -> T) async throws -> T {
        try await request.body.consumeWithCancellationOnInboundClose { _ in try await operation() }
    }

    func model(_ name: String?) throws -> ServedModel {
        guard let name else { return models[0] }
        guard let m = models.first(where: { $0.aliases.contains(name) }) else {
            throw APIError(status: 404, message: "The model '\(name)' does not exist (served: \(models.map(\.id).joined(separator: ", ")))",
                           type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        return m
    }

    // MARK: Response bodies

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()

    static func sse(_ value: some Encodable) -> ByteBuffer {
        var b = ByteBuffer(string: "data: ")
        b.writeBytes((try? encoder.encode(value)) ?? Data("{}".utf8))
        b.writeString("\n\n")
        return b
    }

    static let sseHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    static func newID(_ prefix: String) -> String {
        prefix + String(UInt64.random(in: 0...UInt64.max), radix: 16) + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }
}
