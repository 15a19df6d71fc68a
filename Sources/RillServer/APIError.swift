import Foundation
import HTTPTypes

/// An error answered in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`,
/// with its HTTP status. Every request that fails gets one of these — never a dropped
/// connection or a crash.
struct APIError: Error, Sendable {
    let status: HTTPResponse.Status
    let message: String
    let type: String
    let param: String?
    let code: String?
    /// Seconds for a `Retry-After` header (503 when every slot and the queue are busy).
    var retryAfter: Int?

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static func unauthorized() -> APIError {
        APIError(
            status: .unauthorized, message: "Incorrect or missing API key: send the header 'Authorization: Bearer KEY'.",
            type: "invalid_request_error", param: nil, code: "invalid_api_key")
    }

    static func modelNotFound(_ name: String, available: String) -> APIError {
        APIError(
            status: .notFound, message: "The model '\(name)' does not exist; this server runs '\(available)'.",
            type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    static func busy(retryAfter: Int) -> APIError {
        var e = APIError(
            status: .serviceUnavailable, message: "All slots are busy and the queue is full; retry shortly.",
            type: "server_error", param: nil, code: "server_busy")
        e.retryAfter = retryAfter
        return e
    }

    static func tooLarge(limit: Int) -> APIError {
        APIError(
            status: .contentTooLarge, message: "The request body is larger than the server's limit of \(limit) bytes.",
            type: "invalid_request_error", param: nil, code: "request_too_large")
    }

    static func notFound(_ path: String) -> APIError {
        APIError(status: .notFound, message: "No endpoint \(path).", type: "invalid_request_error", param: nil, code: "not_found")
    }

    static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: nil)
    }

    /// The body, as JSON.
    var body: Data {
        struct Wire: Encodable {
            struct Inner: Encodable {
                let message: String, type: String, param: String?, code: String?
                func encode(to encoder: Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(message, forKey: .message)
                    try c.encode(type, forKey: .type)
                    try c.encode(param, forKey: .param)
                    try c.encode(code, forKey: .code)
                }
                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            let error: Inner
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(Wire(error: .init(message: message, type: type, param: param, code: code)))) ?? Data("{}".utf8)
    }
}

/// A JSON decoding failure as a sentence naming the field, for an `invalid_request_error`.
func describeRequestError(_ error: Error) -> (message: String, param: String?) {
    guard let e = error as? DecodingError else {
        return ("The body is not valid JSON: \(error)", nil)
    }
    func path(_ ctx: DecodingError.Context) -> String? {
        let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? nil : p
    }
    switch e {
    case let .keyNotFound(key, ctx):
        let where_ = path(ctx).map { " in \($0)" } ?? ""
        return ("Missing required field '\(key.stringValue)'\(where_).", key.stringValue)
    case let .typeMismatch(type, ctx):
        return ("Field '\(path(ctx) ?? "body")' has the wrong type (expected \(type)).", path(ctx))
    case let .valueNotFound(type, ctx):
        return ("Field '\(path(ctx) ?? "body")' is null (expected \(type)).", path(ctx))
    case let .dataCorrupted(ctx):
        if ctx.codingPath.isEmpty { return ("The body is not valid JSON (\(ctx.debugDescription)).", nil) }
        return ("Field '\(path(ctx) ?? "body")': \(ctx.debugDescription).", path(ctx))
    @unknown default:
        return ("The body could not be decoded.", nil)
    }
}
