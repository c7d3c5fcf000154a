import Engine
import Hummingbird
import OpenAIWire

/// An OpenAI-shaped error body with its HTTP status.
struct APIError: Error {
    var body: ErrorResponse
    var status: Int
    var retryAfter: Int? = nil

    init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        body = ErrorResponse(error: .init(message: message, type: type, param: param, code: code))
    }

    static func badRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// A request the scheduler turned away.
    init(_ e: SchedulerError) {
        switch e {
        case .queueFull:
            self.init(status: 429, message: e.description, type: "rate_limit_error", code: "queue_full")
            retryAfter = 1
        case .shuttingDown: self.init(status: 503, message: e.description, type: "server_error")
        case .promptTooLong: self = .badRequest(e.description, param: "messages", code: "context_length_exceeded")
        }
    }

    var response: Response {
        var r = APIServer.json(body, status: HTTPResponse.Status(code: status))
        if let retryAfter { r.headers[.retryAfter] = String(retryAfter) }
        return r
    }
}
