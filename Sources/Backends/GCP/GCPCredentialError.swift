import Core

/// Why no Google access token could be had: a credentials file that cannot be used, a
/// token endpoint that refused, or every source of the chain failing (each named with
/// its reason).
struct GCPCredentialError: CloudServiceError {
    let description: String
    /// `denied` for refused or unusable credentials, `unavailable` for a token endpoint
    /// that could not be reached (retrying can help).
    let kind: BackendError.Kind

    init(_ description: String, kind: BackendError.Kind = .denied) {
        self.description = description
        self.kind = kind
    }

    var retryAfter: Duration? { nil }
    var serviceMessage: String { description }

    /// The kind of a token source's failure.
    static func kind(of error: Error) -> BackendError.Kind {
        switch error {
        case let error as GCPCredentialError: return error.kind
        case let error as any CloudServiceError: return error.kind == .throttled || error.kind == .unavailable ? error.kind : .denied
        case is HTTPClientError: return .unavailable
        default: return .denied
        }
    }
}
