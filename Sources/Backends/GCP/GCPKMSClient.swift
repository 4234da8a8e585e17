import Foundation
import Logging

/// A minimal Cloud KMS client: REST v1 JSON over the project's outbound HTTPS client, an
/// OAuth2 bearer token from the credential chain, retried with backoff and full jitter on
/// throttling, faults on Google's side and transport failures within a deadline. A 401
/// drops the cached token and tries once more with a fresh one.
final class GCPKMSClient: Sendable {
    let endpoint: URL
    let credentials: GCPCredentialChain
    let http: HTTPClient
    let retry: RetryPolicy
    let logger: Logger

    init(endpoint: URL, credentials: GCPCredentialChain, http: HTTPClient, retry: RetryPolicy, logger: Logger) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.http = http
        self.retry = retry
        self.logger = logger
    }

    /// Calls `operation` on `path` (a resource name, maybe with `:verb` or `/publicKey`).
    func call<Body: Encodable, Response: Decodable>(_ operation: String, _ method: String, _ path: String,
                                                     query: [(String, String)] = [], body: Body?,
                                                     as _: Response.Type = Response.self) async throws -> Response {
        var components = URLComponents(url: endpoint.appendingPathComponent("v1/" + path), resolvingAgainstBaseURL: false)
        if !query.isEmpty {
            components?.percentEncodedQuery = query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        guard let url = components?.url else { throw GCPCredentialError("cannot build a Cloud KMS URL for \(path)", kind: .invalid) }
        let payload = try body.map { [UInt8](try JSONEncoder().encode($0)) } ?? []
        let response = try await retry.run(isRetryable: CloudRetry.isRetryable, onRetry: { [logger] attempt, error, wait in
            logger.warning("retrying Cloud KMS call", metadata: [
                "operation": "\(operation)", "attempt": "\(attempt)", "error": "\(error)",
                "wait_seconds": "\(String(format: "%.2f", wait))",
            ])
        }) { _, timeout in
            var refreshed = false
            while true {
                let token = try await credentials.token()
                var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(token)"), ("Accept", "application/json")]
                if body != nil { headers.append(("Content-Type", "application/json")) }
                let response = try await http.send(HTTPClientRequest(method: method, url: url, headers: headers, body: payload),
                                                   timeout: timeout)
                if response.status == 401, !refreshed {
                    // The token expired or was revoked before our margin: one more try with a new one.
                    await credentials.invalidate()
                    refreshed = true
                    continue
                }
                guard response.isSuccess else { throw GCPServiceError.from(response, operation: operation) }
                return response
            }
        }
        do {
            return try JSONDecoder().decode(Response.self, from: response.body.isEmpty ? Data("{}".utf8) : Data(response.body))
        } catch {
            throw GCPServiceError(operation: operation, httpStatus: response.status, status: "UNEXPECTED_RESPONSE",
                                  message: "unexpected answer: \(response.bodySnippet)", retryAfter: nil)
        }
    }

    private static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension GCPKMSClient: GCPKMSOperations {
    func getKeyRing(name: String) async throws -> GCPKMSAPI.KeyRing {
        try await call("keyRings.get", "GET", name, body: GCPKMSAPI.Empty?.none)
    }

    func createKeyRing(parent: String, id: String) async throws -> GCPKMSAPI.KeyRing {
        try await call("keyRings.create", "POST", "\(parent)/keyRings", query: [("keyRingId", id)], body: GCPKMSAPI.Empty())
    }

    func createCryptoKey(keyRing: String, id: String, _ key: GCPKMSAPI.CryptoKey) async throws -> GCPKMSAPI.CryptoKey {
        try await call("cryptoKeys.create", "POST", "\(keyRing)/cryptoKeys",
                       query: [("cryptoKeyId", id), ("skipInitialVersionCreation", "false")], body: key)
    }

    func getCryptoKey(name: String) async throws -> GCPKMSAPI.CryptoKey {
        try await call("cryptoKeys.get", "GET", name, body: GCPKMSAPI.Empty?.none)
    }

    func listCryptoKeys(keyRing: String, filter: String?, pageToken: String?) async throws -> GCPKMSAPI.ListCryptoKeysResponse {
        var query: [(String, String)] = [("pageSize", "100")]
        if let filter { query.append(("filter", filter)) }
        if let pageToken { query.append(("pageToken", pageToken)) }
        return try await call("cryptoKeys.list", "GET", "\(keyRing)/cryptoKeys", query: query, body: GCPKMSAPI.Empty?.none)
    }

    func updateLabels(cryptoKey: String, labels: [String: String]) async throws -> GCPKMSAPI.CryptoKey {
        try await call("cryptoKeys.patch", "PATCH", cryptoKey, query: [("updateMask", "labels")],
                       body: GCPKMSAPI.CryptoKey(labels: labels))
    }

    func getVersion(name: String) async throws -> GCPKMSAPI.CryptoKeyVersion {
        try await call("cryptoKeyVersions.get", "GET", name, body: GCPKMSAPI.Empty?.none)
    }

    func getPublicKey(version: String) async throws -> GCPKMSAPI.PublicKey {
        try await call("cryptoKeyVersions.getPublicKey", "GET", "\(version)/publicKey", body: GCPKMSAPI.Empty?.none)
    }

    func asymmetricSign(version: String, _ request: GCPKMSAPI.AsymmetricSignRequest) async throws -> GCPKMSAPI.AsymmetricSignResponse {
        try await call("cryptoKeyVersions.asymmetricSign", "POST", "\(version):asymmetricSign", body: request)
    }

    func destroyVersion(name: String) async throws -> GCPKMSAPI.CryptoKeyVersion {
        try await call("cryptoKeyVersions.destroy", "POST", "\(name):destroy", body: GCPKMSAPI.Empty())
    }
}
