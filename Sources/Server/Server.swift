import Engine
import Foundation
import Hummingbird
import Logging
import Models
import NIOCore
import OpenAIWire
import Tokenizers

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

/// The OpenAI-compatible HTTP API over one or more engines (routes declared in `router()`).
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
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/metrics") { [self] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render(models: models))))
        }
        router.get("/v1/models", use: endpoint("models") { [self] _ in
            let created = Int(Date().timeIntervalSince1970)
            return Self.json(ModelList(data: models.map { .init(id: $0.id, created: created, ownedBy: "featherweight") }))
        })
        router.post("/v1/chat/completions", use: endpoint("chat", watchesConnection: true) { [self] in try await chatCompletion($0) })
        router.post("/v1/completions", use: endpoint("completions", watchesConnection: true) { [self] in try await completion($0) })
        router.post("/tokenize", use: endpoint("tokenize") { [self] in try await tokenize($0) })
        router.post("/detokenize", use: endpoint("detokenize") { [self] in try await detokenize($0) })
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

    /// A handler whose errors become OpenAI-shaped JSON responses, counted in the metrics.
    /// `watchesConnection`: the handler waits under `whileConnected`, after which Hummingbird does
    /// not read the connection again, so the response says `Connection: close` and clients open a
    /// new one instead of reusing a closed one.
    func endpoint(_ name: String, watchesConnection: Bool = false, _ body: @escaping @Sendable (Request) async throws -> Response)
        -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { [metrics, logger] request, _ in
            var response: Response
            do { response = try await body(request) } catch let e as APIError {
                response = e.response
            } catch is CancellationError {
                // The client left; nobody reads this. 499 as nginx counts a client that closed the request.
                metrics.request(endpoint: name, status: 499)
                return APIError(status: 499, message: "the client closed the connection", type: "invalid_request_error").response
            } catch let e as SchedulerError {
                response = Self.apiError(e).response
            } catch {
                logger.error("\(name): \(error)")
                response = APIError(status: 500, message: "\(error)", type: "server_error").response
            }
            metrics.request(endpoint: name, status: Int(response.status.code))
            if watchesConnection { response.headers[.connection] = "close" }
            return response
        }
    }

    static func apiError(_ e: SchedulerError) -> APIError {
        switch e {
        case .queueFull:
            var a = APIError(status: 429, message: e.description, type: "rate_limit_error", code: "queue_full")
            a.retryAfter = 1
            return a
        case .shuttingDown: return APIError(status: 503, message: e.description, type: "server_error")
        case .promptTooLong: return .badRequest(e.description, param: "messages", code: "context_length_exceeded")
        }
    }

    // MARK: Request bodies

    /// The body as `T`, and the request with its body collected: `whileConnected` needs the request
    /// in that state (Hummingbird then replays the body and goes on watching the connection).
    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> (T, Request) {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: configuration.maxBodyBytes) } catch is NIOTooManyBytesError {
            throw APIError(status: 413, message: "the request body is larger than \(configuration.maxBodyBytes) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        }
        let data = Data(buffer.readableBytesView)
        do { return (try OpenAIWire.requestDecoder().decode(T.self, from: data), request) } catch let e as InvalidField {
            throw APIError.badRequest(e.message, param: e.param)
        } catch let e as DecodingError {
            if case .dataCorrupted(let c) = e, c.codingPath.isEmpty { throw Self.diagnose(data) }
            throw Self.describe(e)
        }
    }

    /// Why a body that JSONDecoder calls "not valid JSON" was refused. Foundation says no more for
    /// bad UTF-8, a lone surrogate escape, or a number too large for its field, so look again:
    /// the bytes, then JSONSerialization's reason, then the first number no field can hold.
    static func diagnose(_ data: Data) -> APIError {
        guard String(data: data, encoding: .utf8) != nil else { return .badRequest("the request body is not valid UTF-8") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return .badRequest("the request body is not valid JSON" + (reason.map { ": \($0)" } ?? ""))
        }
        if let (path, number) = outOfRange(parsed, path: "") {
            return .badRequest("'\(path)' is out of range: \(number)", param: path)
        }
        return .badRequest("the request body is not valid JSON")
    }

    /// The first number (depth first) that neither a Float nor an Int64 field can hold, with its path.
    static func outOfRange(_ value: Any, path: String) -> (String, String)? {
        switch value {
        case let d as [String: Any]:
            for key in d.keys.sorted() {
                if let hit = outOfRange(d[key]!, path: path.isEmpty ? key : "\(path).\(key)") { return hit }
            }
        case let a as [Any]:
            for (i, v) in a.enumerated() { if let hit = outOfRange(v, path: "\(path)[\(i)]") { return hit } }
        case let n as NSNumber:  // booleans too: 0 and 1 are in range
            let text = n.description
            let isInteger = !text.contains(".") && !text.lowercased().contains("e")
            if isInteger ? Int64(text) == nil : abs(n.doubleValue) > Double(Float.greatestFiniteMagnitude) { return (path, text) }
        default: break
        }
        return nil
    }

    /// One line naming the field, as OpenAI's 400s do.
    static func describe(_ e: DecodingError) -> APIError {
        func path(_ c: [any CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? ".\(snake($0.stringValue))" }.joined().trimmingCharacters(in: ["."])
        }
        switch e {
        case .typeMismatch(let type, let c):
            return .badRequest("'\(path(c.codingPath))' has the wrong type: expected \(typeName(type))", param: path(c.codingPath))
        case .valueNotFound(let type, let c):
            return .badRequest("'\(path(c.codingPath))' must not be null: expected \(typeName(type))", param: path(c.codingPath))
        case .keyNotFound(let key, let c):
            let p = path(c.codingPath + [key])
            return .badRequest("'\(p)' is a required property", param: p)
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return .badRequest("the request body is not valid JSON") }
            return .badRequest("'\(path(c.codingPath))' is invalid: \(c.debugDescription)", param: path(c.codingPath))
        @unknown default:
            return .badRequest("the request body does not match the API: \(e)")
        }
    }

    static func snake(_ s: String) -> String {
        var out = ""
        for ch in s { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
        return out
    }

    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Float.Type, is Double.Type: "a number"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type: "an integer"
        default: "\(t)".hasPrefix("Array") ? "an array" : "an object"
        }
    }

    func model(_ name: String?) throws -> ServedModel {
        guard let name else { return models[0] }
        guard let m = models.first(where: { $0.aliases.contains(name) }) else {
            throw APIError(status: 404, message: "The model '\(name)' does not exist (served: \(models.map(\.id).joined(separator: ", ")))",
                           type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        return m
    }

    // MARK: Responses

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

extension APIError {
    var response: Response {
        var r = APIServer.json(body, status: HTTPResponse.Status(code: status))
        if let retryAfter { r.headers[.retryAfter] = String(retryAfter) }
        return r
    }
}

/// `Authorization: Bearer KEY` on every path but /health when a key is set. The scheme name is
/// case-insensitive (RFC 9110 §11.1); the key is compared in time that does not depend on where
/// it first differs.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String?
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let apiKey, request.uri.path != "/health" else { return try await next(request, context) }
        guard let token = APIKey.bearerToken(request.headers[.authorization]) else {
            return APIError(status: 401, message: "You didn't provide an API key: send 'Authorization: Bearer KEY'",
                            type: "invalid_request_error", code: "invalid_api_key").response
        }
        guard APIKey.constantTimeEqual(token, apiKey) else {
            return APIError(status: 401, message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key").response
        }
        return try await next(request, context)
    }
}

/// The key check behind `AuthMiddleware`.
enum APIKey {
    /// The credentials of `Bearer TOKEN`, the scheme in any case.
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// Compares every byte of the longer input whatever the contents, so the time taken tells
    /// nothing about a guess's common prefix with the key.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt64(x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            let p = i < x.count ? x[i] : 0, q = i < y.count ? y[i] : 0
            diff |= UInt64(p ^ q)
        }
        return diff == 0
    }
}

/// Errors the router raises itself (no route, a route without that method) in OpenAI's error
/// shape instead of an empty body. `allowed`: each route's path and its methods.
struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: [String: [String]]
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError {
            let path = request.uri.path
            if e.status == .notFound, let methods = allowed[path], !methods.contains(request.method.rawValue) {
                var r = APIError(status: 405, message: "\(request.method.rawValue) is not allowed on \(path) (use \(methods.joined(separator: ", ")))",
                                 type: "invalid_request_error", code: "method_not_allowed").response
                r.headers[.allow] = methods.joined(separator: ", ")
                return r
            }
            if e.status == .notFound {
                return APIError(status: 404, message: "Invalid URL (\(request.method.rawValue) \(path))", type: "invalid_request_error",
                                code: "not_found").response
            }
            return APIError(status: Int(e.status.code), message: e.body ?? e.status.reasonPhrase, type: "invalid_request_error").response
        }
    }
}
