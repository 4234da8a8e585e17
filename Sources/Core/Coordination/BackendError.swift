import Foundation

/// A key backend failure with the kind of failure it is, so the API can answer each kind
/// the same way whichever backend raised it (Service maps kinds to HTTP in one place).
public struct BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// The backend refused for request rate or quota; retrying later can succeed.
        case throttled
        /// The backend refused keycoord's identity or a permission it lacks.
        case denied
        /// The key (or key ring, alias…) does not exist in the backend.
        case notFound = "not-found"
        /// The backend could not be reached or failed on its side; retrying can succeed.
        case unavailable
        /// The backend refused the request as invalid for the key or its configuration.
        case invalid
        /// Anything else: a local failure (a file that cannot be read) or an answer that
        /// makes no sense (a signature that does not verify, a checksum that does not match).
        case failed
    }

    public var kind: Kind
    /// What failed and what the operator can do, including the backend's own message.
    public var message: String
    /// The permission the backend named (or keycoord knows is needed) when `kind` is `denied`.
    public var permission: String?
    /// How long the backend asked callers to wait, when it said.
    public var retryAfter: Duration?

    public init(_ kind: Kind, _ message: String, permission: String? = nil, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.permission = permission
        self.retryAfter = retryAfter
    }

    /// Whether calling again later can succeed without anyone changing anything.
    public var isTransient: Bool { kind == .throttled || kind == .unavailable }

    public var description: String { message }
}

/// An unclassified failure built from its message: `.backendFailure("… \(detail)")`.
extension BackendError: ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) {
        self.init(.failed, value)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(.failed, String(stringInterpolation: stringInterpolation))
    }
}
