import Engine
import Hummingbird
import Logging

/// Counts each response of an API route by status under the route's label (GET /metrics). A
/// client that hung up is counted as 499, as nginx counts it; nobody reads that answer.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let label: String
    let metrics: Metrics
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        do { response = try await next(request, context) } catch is CancellationError {
            metrics.request(endpoint: label, status: 499)
            return APIError(status: 499, message: "the client closed the connection", type: "invalid_request_error").response
        }
        metrics.request(endpoint: label, status: Int(response.status.code))
        return response
    }
}

/// For routes that wait under `APIServer.whileConnected`, after which Hummingbird does not read
/// the connection again: the response says `Connection: close`, so clients open a new one instead
/// of reusing a closed one.
struct ConnectionCloseMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.connection] = "close"
        return response
    }
}

/// A route's errors as OpenAI-shaped responses; the client's hang-up goes on to `RequestMetricsMiddleware`.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let label: String
    let logger: Logger
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch let e as APIError {
            return e.response
        } catch let e as CancellationError {
            throw e
        } catch let e as SchedulerError {
            return APIError(e).response
        } catch {
            logger.error("\(label): \(error)")
            return APIError(status: 500, message: "\(error)", type: "server_error").response
        }
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
