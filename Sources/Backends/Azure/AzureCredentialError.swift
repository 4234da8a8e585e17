import Core

/// No Entra ID token: a credential source is misconfigured, refused, or unreachable
/// (`unavailable`, which is retried like any cloud fault).
struct AzureCredentialError: CloudServiceError {
    let description: String
    let kind: BackendError.Kind
    var retryAfter: Duration? { nil }
    var serviceMessage: String { description }

    init(_ description: String, kind: BackendError.Kind = .denied) {
        self.description = description
        self.kind = kind
    }
}
