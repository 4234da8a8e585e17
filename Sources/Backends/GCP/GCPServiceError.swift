import Core
import Foundation

/// An error answer of a Google API: the HTTP status and the google.rpc.Status body
/// (`{"error":{"code","message","status","details"}}`), or an OAuth2 error of a token
/// endpoint (`{"error","error_description"}`).
struct GCPServiceError: CloudServiceError, Equatable {
    let operation: String
    let httpStatus: Int
    /// The canonical code name, e.g. `PERMISSION_DENIED` (or the OAuth2 `error`).
    let status: String
    let message: String
    let retryAfter: Duration?

    var kind: BackendError.Kind {
        switch status {
        case "RESOURCE_EXHAUSTED": return .throttled
        case "PERMISSION_DENIED", "UNAUTHENTICATED", "invalid_grant", "invalid_client", "unauthorized_client",
             "access_denied", "invalid_token":
            return .denied
        case "NOT_FOUND": return .notFound
        case "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN": return .unavailable
        default:
            if httpStatus == 429 { return .throttled }
            if httpStatus == 401 || httpStatus == 403 { return .denied }
            if httpStatus == 404 { return .notFound }
            if httpStatus >= 500 { return .unavailable }
            return (400..<500).contains(httpStatus) ? .invalid : .failed
        }
    }

    var serviceMessage: String { "\(status) (HTTP \(httpStatus)): \(message)" }

    var description: String { "\(operation) failed: \(serviceMessage)" }

    /// Reads an error answer; a body that is neither shape is quoted as is.
    static func from(_ response: HTTPClientResponse, operation: String) -> GCPServiceError {
        struct Status: Decodable {
            struct Detail: Decodable {
                var type: String?
                var retryDelay: String?
                enum CodingKeys: String, CodingKey {
                    case type = "@type"
                    case retryDelay
                }
            }
            var code: Int?
            var message: String?
            var status: String?
            var details: [Detail]?
        }
        struct Body: Decodable {
            var error: Status?
        }
        struct OAuth: Decodable {
            var error: String
            var error_description: String?
        }
        let data = Data(response.body)
        var wait = response.header("retry-after").flatMap(Double.init).map { Duration.seconds($0) }
        if let body = try? JSONDecoder().decode(Body.self, from: data), let error = body.error {
            // google.rpc.RetryInfo: retryDelay is a protobuf Duration in JSON ("1.5s").
            if wait == nil, let delay = error.details?.first(where: { $0.type?.hasSuffix("google.rpc.RetryInfo") == true })?.retryDelay,
               delay.hasSuffix("s"), let seconds = Double(delay.dropLast()) {
                wait = .seconds(seconds)
            }
            return GCPServiceError(operation: operation, httpStatus: response.status,
                                   status: error.status ?? "HTTP\(response.status)", message: error.message ?? "(no message)",
                                   retryAfter: wait)
        }
        if let oauth = try? JSONDecoder().decode(OAuth.self, from: data) {
            return GCPServiceError(operation: operation, httpStatus: response.status, status: oauth.error,
                                   message: oauth.error_description ?? oauth.error, retryAfter: wait)
        }
        return GCPServiceError(operation: operation, httpStatus: response.status, status: "HTTP\(response.status)",
                               message: response.body.isEmpty ? "(no message)" : response.bodySnippet, retryAfter: wait)
    }
}
