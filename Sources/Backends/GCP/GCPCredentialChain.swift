import Foundation
import Logging

/// Google access tokens in the order Google's libraries look for credentials: an explicit
/// credentials file, then the file `GOOGLE_APPLICATION_CREDENTIALS` names (a service-account
/// key or an external-account file for workload identity federation), then the GCE/GKE
/// metadata server. A file that is named but unusable is an error, never skipped.
///
/// The token is cached and refreshed ahead of its expiry (Google's libraries refresh 3¾
/// minutes early); concurrent callers share one refresh. `invalidate` drops a token the
/// API refused.
actor GCPCredentialChain {
    private let source: any GCPTokenSource
    /// The source in use, for the log line at start.
    nonisolated let sourceName: String
    /// The sources looked at and passed over, for the error when the last one fails too.
    private let passedOver: [String]
    private let logger: Logger
    private var cached: (token: GCPAccessToken, fetchedAt: Date)?
    private var refreshing: Task<GCPAccessToken, Error>?

    /// Refresh this long before expiry (or at half the lifetime, for short-lived tokens).
    static let refreshMargin: TimeInterval = 225
    static let scope = "https://www.googleapis.com/auth/cloud-platform"

    init(source: any GCPTokenSource, passedOver: [String] = [], logger: Logger) {
        self.source = source
        self.sourceName = source.name
        self.passedOver = passedOver
        self.logger = logger
    }

    /// Chooses the source; reads and checks a named file now (no network call).
    static func standard(explicitFile: String?, environment: [String: String], http: HTTPClient,
                         logger: Logger) throws -> GCPCredentialChain {
        var passed: [String] = []
        if let path = explicitFile, !path.isEmpty {
            return GCPCredentialChain(source: try fileSource(path, http: http), logger: logger)
        }
        passed.append("no explicit credentials file (gcp-credentials-file)")
        if let path = environment["GOOGLE_APPLICATION_CREDENTIALS"], !path.isEmpty {
            return GCPCredentialChain(source: try fileSource(path, http: http), passedOver: passed, logger: logger)
        }
        passed.append("GOOGLE_APPLICATION_CREDENTIALS not set")
        return GCPCredentialChain(source: try GCPMetadataTokenSource(environment: environment, http: http),
                                  passedOver: passed, logger: logger)
    }

    /// A source for a credentials file, by its `type`.
    static func fileSource(_ path: String, http: HTTPClient) throws -> any GCPTokenSource {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GCPCredentialError("Google credentials file \(path) cannot be read")
        }
        guard data.count <= 1 << 20, let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GCPCredentialError("Google credentials file \(path) is not a JSON object")
        }
        switch json["type"] as? String {
        case "service_account":
            return try GCPServiceAccountTokenSource(json: json, path: path, scope: scope, http: http)
        case "external_account":
            return try GCPExternalAccountTokenSource(json: json, path: path, scope: scope, http: http)
        case let other:
            throw GCPCredentialError("Google credentials file \(path) has type \(other ?? "(none)"); "
                + "keycoord takes service_account or external_account")
        }
    }

    /// A token valid for a while yet, fetched when the cached one is near its expiry.
    func token() async throws -> String {
        let now = Date()
        if let cached, !Self.due(cached.token, fetchedAt: cached.fetchedAt, now: now) { return cached.token.value }
        if let refreshing { return try await refreshing.value.value }
        let source = self.source
        let task = Task { try await source.fetch() }
        refreshing = task
        defer { refreshing = nil }
        do {
            let token = try await task.value
            cached = (token, now)
            logger.debug("fetched Google access token", metadata: ["source": "\(source.name)",
                                                                   "expires_at": "\(token.expiresAt)"])
            return token.value
        } catch {
            let tried = (passedOver + ["\(source.name): \(error)"]).joined(separator: "; ")
            throw GCPCredentialError("no Google access token (\(tried))", kind: GCPCredentialError.kind(of: error))
        }
    }

    /// Forgets the cached token (the API refused it).
    func invalidate() {
        cached = nil
    }

    static func due(_ token: GCPAccessToken, fetchedAt: Date, now: Date) -> Bool {
        let lifetime = token.expiresAt.timeIntervalSince(fetchedAt)
        let margin = min(refreshMargin, lifetime / 2)
        return now >= token.expiresAt.addingTimeInterval(-margin)
    }
}
