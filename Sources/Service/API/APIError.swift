import Core
import HTTP
import HTTPTypes

/// A request the API refuses before reaching Core: bad JSON, a missing field, a bad
/// parameter, missing or wrong credentials.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    public let type: String
    public let title: String
    public let detail: String

    public init(_ status: HTTPResponse.Status, _ type: String, _ title: String, _ detail: String) {
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
    }

    static func badRequest(_ detail: String) -> APIError {
        APIError(.badRequest, "invalid-request", "Invalid request", detail)
    }

    static func malformedJSON(_ detail: String) -> APIError {
        APIError(.badRequest, "malformed-json", "Malformed JSON body", detail)
    }

    static func unsupportedMediaType(_ detail: String) -> APIError {
        APIError(.unsupportedMediaType, "unsupported-media-type", "Unsupported media type", detail)
    }
}

/// The one place where an error becomes an HTTP status and a problem type
/// (RFC 9457 `application/problem+json`). Problem types are stable: clients switch on them.
public enum ProblemMapper {
    public static func response(for error: any Error) -> HTTPServerResponse {
        switch error {
        case let api as APIError:
            var response = Problem.response(status: api.status, type: api.type, title: api.title, detail: api.detail)
            if api.status == .unauthorized {
                response.headerFields[.wwwAuthenticate] = "Bearer realm=\"keycoord\""
            }
            return response
        case let coordination as CoordinationError:
            return response(for: coordination)
        default:
            return Problem.response(status: .internalServerError, type: "internal", title: "Internal error",
                                    detail: "the request failed unexpectedly; see the service log")
        }
    }

    static func response(for error: CoordinationError) -> HTTPServerResponse {
        let detail = error.description
        switch error {
        case .lockHeld(let name, let holder, let expiresAt):
            return Problem.response(status: .conflict, type: "lock-held", title: "Lock is held", detail: detail,
                                    extra: ["lock": name, "holder": holder, "expires_at": WireTime.format(expiresAt)])
        case .leaseNotFound(let name, let leaseID):
            return Problem.response(status: .conflict, type: "lease-not-held", title: "Lease not held", detail: detail,
                                    extra: ["lock": name, "lease_id": leaseID])
        case .staleFence(let lock, let presented, let current):
            return Problem.response(status: .conflict, type: "stale-fencing-token", title: "Stale fencing token", detail: detail,
                                    extra: ["lock": lock, "presented": String(presented), "current": String(current)])
        case .keyNotFound(let kid):
            return Problem.response(status: .notFound, type: "key-not-found", title: "Key not found", detail: detail,
                                    extra: ["kid": kid])
        case .invalid:
            return Problem.response(status: .unprocessableContent, type: "invalid-key", title: "Invalid key or parameters", detail: detail)
        case .jwksLimit:
            return Problem.response(status: .unprocessableContent, type: "jwks-limit", title: "JWKS limit reached", detail: detail)
        case .conflict:
            return Problem.response(status: .conflict, type: "state-conflict", title: "Not allowed in the key's state", detail: detail)
        case .storeUnavailable:
            return Problem.response(status: .serviceUnavailable, type: "store-unavailable", title: "Coordination store unavailable", detail: detail)
        case .backendFailure:
            return Problem.response(status: .badGateway, type: "backend-failure", title: "Key backend failed", detail: detail)
        }
    }
}
