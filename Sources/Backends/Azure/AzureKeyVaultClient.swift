import Foundation
import Logging
import Synchronization

/// A minimal Key Vault keys client: REST (api-version 7.4) JSON over the project's
/// outbound HTTPS client with an Entra ID bearer token, retried with backoff and full
/// jitter on throttling (waiting at least the `Retry-After` Key Vault asks for), faults on
/// Azure's side and transport failures, within a deadline. A 401 drops the cached token,
/// takes the challenge's scope when it names the vault's domain, and tries once more.
final class AzureKeyVaultClient: Sendable {
    /// Where requests go (the vault, or the endpoint override).
    let endpoint: URL
    let vaultHost: String
    let credentials: AzureCredentialChain
    let http: HTTPClient
    let retry: RetryPolicy
    let logger: Logger
    private let scope: Mutex<String>

    init(endpoint: URL, vaultHost: String, credentials: AzureCredentialChain, http: HTTPClient, retry: RetryPolicy, logger: Logger) {
        self.endpoint = endpoint
        self.vaultHost = vaultHost
        self.credentials = credentials
        self.http = http
        self.retry = retry
        self.logger = logger
        self.scope = Mutex(AzureChallenge.defaultScope(forVault: vaultHost))
    }

    /// Calls `operation`. `path` is under the vault (`/keys/NAME/create`) and may carry a
    /// query of its own (a list's `nextLink`). `idempotent` false: only a throttled attempt
    /// (which Key Vault did not perform) is retried, so a lost answer reaches the caller.
    func call<Body: Encodable, Response: Decodable>(_ operation: String, _ method: String, _ path: String, body: Body?,
                                                     idempotent: Bool = true, as _: Response.Type = Response.self) async throws -> Response {
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        let basePath = (components?.percentEncodedPath ?? "").trimmingSuffix("/")
        components?.percentEncodedPath = basePath + parts[0]
        var query = parts.count > 1 ? parts[1].split(separator: "&").map(String.init).filter { !$0.hasPrefix("api-version=") } : []
        query.insert("api-version=\(AzureKeyVaultAPI.apiVersion)", at: 0)
        components?.percentEncodedQuery = query.joined(separator: "&")
        guard let url = components?.url else { throw AzureCredentialError("cannot build a Key Vault URL for \(path)", kind: .invalid) }
        let payload = try body.map { [UInt8](try JSONEncoder().encode($0)) } ?? []
        let retryable: @Sendable (Error) -> Bool = idempotent ? CloudRetry.isRetryable : Self.isRetryableWithoutEffect
        let response = try await retry.run(isRetryable: retryable, onRetry: { [logger] attempt, error, wait in
            logger.warning("retrying Key Vault call", metadata: [
                "operation": "\(operation)", "attempt": "\(attempt)", "error": "\(error)",
                "wait_seconds": "\(String(format: "%.2f", wait))",
            ])
        }) { _, timeout in
            var challenged = false
            while true {
                let scope = self.scope.withLock { $0 }
                let token = try await credentials.token(scope: scope)
                var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(token)"), ("Accept", "application/json")]
                if body != nil { headers.append(("Content-Type", "application/json")) }
                let response = try await http.send(HTTPClientRequest(method: method, url: url, headers: headers, body: payload),
                                                   timeout: timeout)
                if response.status == 401, !challenged {
                    challenged = true
                    await credentials.invalidate()
                    if let wanted = AzureChallenge(header: response.header("www-authenticate"))?.scope(forVault: vaultHost),
                       wanted != scope {
                        logger.info("Key Vault asked for another token scope", metadata: ["scope": "\(wanted)"])
                        self.scope.withLock { $0 = wanted }
                    }
                    continue
                }
                guard response.isSuccess else { throw AzureServiceError.from(response, operation: operation) }
                return response
            }
        }
        if Response.self == AzureKeyVaultAPI.Empty.self { return AzureKeyVaultAPI.Empty() as! Response }
        do {
            return try JSONDecoder().decode(Response.self, from: Data(response.body))
        } catch {
            throw AzureServiceError(operation: operation, httpStatus: response.status, code: "UnexpectedResponse", innerCode: nil,
                                    message: "unexpected answer: \(response.bodySnippet)", retryAfter: nil)
        }
    }

    /// A failed attempt that surely changed nothing: throttled (Key Vault did not perform
    /// it), or no token to send it with.
    @Sendable static func isRetryableWithoutEffect(_ error: Error) -> Bool {
        if let error = error as? AzureServiceError { return error.kind == .throttled }
        if let error = error as? AzureCredentialError { return error.kind == .unavailable }
        return false
    }

    /// The path and query of a `nextLink`, to be sent to `endpoint` (never to the host the
    /// link names: the token is only for the vault).
    static func relative(_ nextLink: String) -> String? {
        guard let components = URLComponents(string: nextLink), !components.percentEncodedPath.isEmpty else { return nil }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }
}

extension AzureKeyVaultClient: AzureKeyVaultOperations {
    func createKey(name: String, _ request: AzureKeyVaultAPI.CreateKeyRequest) async throws -> AzureKeyVaultAPI.KeyBundle {
        try await call("createKey", "POST", "/keys/\(name)/create", body: request, idempotent: false)
    }

    func getKey(name: String, version: String?) async throws -> AzureKeyVaultAPI.KeyBundle {
        try await call("getKey", "GET", "/keys/\(name)/\(version ?? "")", body: AzureKeyVaultAPI.Empty?.none)
    }

    func updateTags(name: String, version: String, tags: [String: String]) async throws -> AzureKeyVaultAPI.KeyBundle {
        try await call("updateKey", "PATCH", "/keys/\(name)/\(version)", body: AzureKeyVaultAPI.UpdateKeyRequest(tags: tags))
    }

    func listKeys(nextLink: String?) async throws -> AzureKeyVaultAPI.KeyListResult {
        let path = nextLink.flatMap(Self.relative) ?? "/keys?maxresults=25"
        return try await call("listKeys", "GET", path, body: AzureKeyVaultAPI.Empty?.none)
    }

    func sign(name: String, version: String, _ request: AzureKeyVaultAPI.SignRequest) async throws -> AzureKeyVaultAPI.SignResult {
        try await call("sign", "POST", "/keys/\(name)/\(version)/sign", body: request)
    }

    func deleteKey(name: String) async throws -> AzureKeyVaultAPI.DeletedKeyBundle {
        try await call("deleteKey", "DELETE", "/keys/\(name)", body: AzureKeyVaultAPI.Empty?.none)
    }

    func getDeletedKey(name: String) async throws -> AzureKeyVaultAPI.DeletedKeyBundle {
        try await call("getDeletedKey", "GET", "/deletedkeys/\(name)", body: AzureKeyVaultAPI.Empty?.none)
    }

    func purgeDeletedKey(name: String) async throws {
        let _: AzureKeyVaultAPI.Empty = try await call("purgeDeletedKey", "DELETE", "/deletedkeys/\(name)", body: AzureKeyVaultAPI.Empty?.none)
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
