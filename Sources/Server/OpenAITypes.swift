import Foundation
import OpenAIWire

// The server's own bodies beside the OpenAI ones (module OpenAIWire): llama.cpp server's
// /tokenize and /detokenize, and errors with their HTTP status.

struct TokenizeRequest: Decodable {
    var model: String?
    var content: String
    var addSpecial: Bool?
    var withPieces: Bool?
}

struct DetokenizeRequest: Decodable {
    var model: String?
    var tokens: [Int32]
}

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
}
