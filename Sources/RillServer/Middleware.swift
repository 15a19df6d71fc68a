import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// The request context: Hummingbird's core storage, and the connection's channel so that a
/// generation can notice, between tokens, that its client has gone.
struct RillRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Answers every failure in OpenAI's error shape, and counts requests by endpoint and status.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = RillRequestContext
    let metrics: ServerMetrics

    static let endpoints: Set<String> = ["/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = Self.endpoints.contains(request.uri.path) ? request.uri.path : "other"
        do {
            let response = try await next(request, context)
            metrics.request(path, status: response.status.code)
            return response
        } catch let e as APIError {
            metrics.request(path, status: e.status.code)
            return e.response
        } catch let e as HTTPError {
            let api: APIError
            switch e.status {
            case .notFound: api = .notFound(request.uri.path)
            case .contentTooLarge: api = .tooLarge(limit: 0)
            case .methodNotAllowed: api = APIError(status: .methodNotAllowed, message: "\(request.method) is not allowed on \(request.uri.path).", type: "invalid_request_error", param: nil, code: nil)
            default: api = APIError(status: e.status, message: e.body ?? e.status.reasonPhrase, type: "invalid_request_error", param: nil, code: nil)
            }
            metrics.request(path, status: api.status.code)
            return api.response
        } catch is CancellationError {
            metrics.request(path, status: 499)
            throw CancellationError()
        } catch {
            let api = APIError.internalError("\(error)")
            metrics.request(path, status: 500)
            return api.response
        }
    }
}

/// With `--api-key`, `/v1/*` requires `Authorization: Bearer KEY` (`/health` and `/metrics`
/// stay open, as llama-server's do).
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = RillRequestContext
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/v1/") {
            let given = request.headers[.authorization] ?? ""
            guard given == "Bearer " + key else { throw APIError.unauthorized() }
        }
        return try await next(request, context)
    }
}

extension APIError {
    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
