import Core
import Foundation

/// An error answer of Key Vault (`{"error": {"code", "message", "innererror"}}`) or of
/// Entra ID / IMDS (`{"error", "error_description"}`).
struct AzureServiceError: CloudServiceError, Equatable {
    let operation: String
    let httpStatus: Int
    /// Key Vault's code (`KeyNotFound`, `Forbidden`…) or the OAuth2 `error`.
    let code: String
    /// Key Vault's inner code (`KeyDisabled`, `ObjectIsDeletedButRecoverable`…).
    let innerCode: String?
    let message: String
    let retryAfter: Duration?

    var kind: BackendError.Kind {
        switch httpStatus {
        case 429: return .throttled
        case 401, 403: return .denied
        case 404: return .notFound
        case 500...: return .unavailable
        default:
            if ["invalid_client", "unauthorized_client", "invalid_tenant", "invalid_grant", "access_denied"].contains(code) {
                return .denied
            }
            return (400..<500).contains(httpStatus) ? .invalid : .failed
        }
    }

    var serviceMessage: String {
        "\(code)\(innerCode.map { "/\($0)" } ?? "") (HTTP \(httpStatus)): \(message)"
    }

    var description: String { "\(operation) failed: \(serviceMessage)" }

    static func from(_ response: HTTPClientResponse, operation: String) -> AzureServiceError {
        struct Inner: Decodable { var code: String? }
        struct VaultError: Decodable {
            var code: String?
            var message: String?
            var innererror: Inner?
        }
        struct Body: Decodable { var error: VaultError? }
        struct OAuth: Decodable {
            var error: String
            var error_description: String?
        }
        let data = Data(response.body)
        let wait = response.header("retry-after").flatMap(Double.init).map { Duration.seconds(max(0, $0)) }
        if let body = try? JSONDecoder().decode(Body.self, from: data), let error = body.error {
            return AzureServiceError(operation: operation, httpStatus: response.status, code: error.code ?? "HTTP\(response.status)",
                                     innerCode: error.innererror?.code, message: error.message ?? "(no message)", retryAfter: wait)
        }
        if let oauth = try? JSONDecoder().decode(OAuth.self, from: data) {
            return AzureServiceError(operation: operation, httpStatus: response.status, code: oauth.error, innerCode: nil,
                                     message: oauth.error_description ?? oauth.error, retryAfter: wait)
        }
        return AzureServiceError(operation: operation, httpStatus: response.status, code: "HTTP\(response.status)", innerCode: nil,
                                 message: response.body.isEmpty ? "(no message)" : response.bodySnippet, retryAfter: wait)
    }
}
