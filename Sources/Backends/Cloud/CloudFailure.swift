import Core
import Foundation

/// The one wording of cloud failures: every error of a cloud call becomes a
/// `CoordinationError.backendFailure` whose `BackendError` carries the kind, the cloud's
/// own message, the permission a refusal is about, and how hard keycoord tried.
public enum CloudFailure {
    /// `error` from `operation` of `service` (e.g. "GCP Cloud KMS", "asymmetricSign").
    /// `permission` names what `operation` needs, for a denial; `explain` adds what an
    /// operator can do about a given kind (where to grant, which quota…).
    public static func map(_ error: Error, service: String, operation: String, permission: String? = nil,
                           explain: (BackendError.Kind) -> String? = { _ in nil }) -> CoordinationError {
        switch error {
        case let error as CoordinationError:
            return error
        case let exhausted as RetryExhaustedError:
            guard case .backendFailure(var inner) = map(exhausted.last, service: service, operation: operation,
                                                         permission: permission, explain: explain) else {
                return .backendFailure(BackendError(.failed, "\(service) \(operation) failed: \(exhausted)"))
            }
            inner.message += " (gave up after \(exhausted.attempts) attempts in \(String(format: "%.1f", exhausted.elapsed))s)"
            return .backendFailure(inner)
        case let error as any CloudServiceError:
            let what: String
            switch error.kind {
            case .throttled: what = "is throttled (request quota exceeded)"
            case .denied: what = "was denied" + (permission.map { " (needs \($0))" } ?? "")
            case .notFound: what = "found no such resource"
            case .unavailable: what = "is unavailable"
            case .invalid: what = "refused the request"
            case .failed: what = "failed"
            }
            var message = "\(service) \(operation) \(what): \(error.serviceMessage)"
            if let advice = explain(error.kind) { message += "; \(advice)" }
            return .backendFailure(BackendError(error.kind, message, permission: error.kind == .denied ? permission : nil,
                                                retryAfter: error.retryAfter))
        case let error as HTTPClientError:
            return .backendFailure(BackendError(.unavailable, "\(service) \(operation): \(error)"))
        default:
            return .backendFailure(BackendError(.failed, "\(service) \(operation) failed: \(error)"))
        }
    }
}
