import Core
import Foundation
import Logging

/// Entra ID tokens in the order Azure's libraries (DefaultAzureCredential) look for
/// credentials: a client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET`), workload identity (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_FEDERATED_TOKEN_FILE`), then the managed identity through IMDS.
///
/// Tokens are cached per scope and refreshed 5 minutes before expiry (half the lifetime
/// for short-lived ones), as azure-identity does; concurrent callers share one refresh.
actor AzureCredentialChain {
    private let source: any AzureTokenSource
    nonisolated let sourceName: String
    private let logger: Logger
    private var cached: [String: (token: AzureAccessToken, fetchedAt: Date)] = [:]
    private var refreshing: [String: Task<AzureAccessToken, Error>] = [:]

    static let refreshMargin: TimeInterval = 300

    init(source: any AzureTokenSource, logger: Logger) {
        self.source = source
        self.sourceName = source.name
        self.logger = logger
    }

    /// Chooses the source from the environment; no network call.
    static func standard(environment: [String: String], authorityHost: String?, managedIdentityEndpoint: String?,
                         http: HTTPClient, logger: Logger) throws -> AzureCredentialChain {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let authorityText = authorityHost.flatMap { $0.isEmpty ? nil : $0 } ?? value("AZURE_AUTHORITY_HOST")
            ?? AzureKeyVaultConfig.defaultAuthorityHost
        guard let authority = URL(string: authorityText), authority.scheme == "https", authority.host != nil else {
            throw AzureCredentialError("the Entra ID authority host \(authorityText) is not an https URL", kind: .invalid)
        }
        if let tenant = value("AZURE_TENANT_ID"), let client = value("AZURE_CLIENT_ID") {
            if let secret = value("AZURE_CLIENT_SECRET") {
                return AzureCredentialChain(source: AzureEntraTokenSource(authority: authority, tenantID: tenant, clientID: client,
                                                                          secret: .clientSecret(secret), http: http), logger: logger)
            }
            if let file = value("AZURE_FEDERATED_TOKEN_FILE") {
                return AzureCredentialChain(source: AzureEntraTokenSource(authority: authority, tenantID: tenant, clientID: client,
                                                                          secret: .assertionFile(file), http: http), logger: logger)
            }
        }
        let endpointText = managedIdentityEndpoint.flatMap { $0.isEmpty ? nil : $0 } ?? AzureKeyVaultConfig.defaultManagedIdentityEndpoint
        guard let endpoint = URL(string: endpointText), endpoint.host != nil else {
            throw AzureCredentialError("the managed identity endpoint \(endpointText) is not a URL", kind: .invalid)
        }
        return AzureCredentialChain(source: AzureManagedIdentityTokenSource(endpoint: endpoint, clientID: value("AZURE_CLIENT_ID"),
                                                                            http: http), logger: logger)
    }

    /// A token for `scope` valid for a while yet.
    func token(scope: String) async throws -> String {
        let now = Date()
        if let entry = cached[scope], !Self.due(entry.token, fetchedAt: entry.fetchedAt, now: now) { return entry.token.value }
        if let running = refreshing[scope] { return try await running.value.value }
        let source = self.source
        let task = Task { try await source.fetch(scope: scope) }
        refreshing[scope] = task
        defer { refreshing[scope] = nil }
        do {
            let token = try await task.value
            cached[scope] = (token, now)
            logger.debug("fetched Entra ID token", metadata: ["source": "\(source.name)", "expires_at": "\(token.expiresAt)"])
            return token.value
        } catch let error as AzureServiceError {
            throw AzureCredentialError("no Entra ID token from the \(source.name): \(error.serviceMessage)",
                                       kind: error.kind == .invalid ? .denied : error.kind)
        } catch let error as AzureCredentialError {
            throw AzureCredentialError("no Entra ID token from the \(source.name): \(error.description)", kind: error.kind)
        } catch {
            throw AzureCredentialError("no Entra ID token from the \(source.name): \(error)", kind: .unavailable)
        }
    }

    /// Forgets every cached token (Key Vault refused one).
    func invalidate() {
        cached = [:]
    }

    static func due(_ token: AzureAccessToken, fetchedAt: Date, now: Date) -> Bool {
        let margin = min(refreshMargin, token.expiresAt.timeIntervalSince(fetchedAt) / 2)
        return now >= token.expiresAt.addingTimeInterval(-margin)
    }
}
