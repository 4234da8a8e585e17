import Core
import Foundation
import TestSupport
@testable import Backends

/// The Key Vault fake (Tests/python/fakes/azure_kv_fake.py, HTTPS with a throwaway CA) and
/// backends on it.
enum AzureTestSupport {
    /// The vault the references name; requests go to the fake through the endpoint override.
    static let vaultURL = "https://keycoord-test.vault.azure.net"

    static func fake(_ arguments: [String] = []) async throws -> CloudFakeServer {
        try await AWSTestSupport.offPool { try CloudFakeServer("azure_kv_fake.py", arguments: arguments) }
    }

    static func url(_ fake: CloudFakeServer) -> String { "https://127.0.0.1:\(fake.port)" }

    /// `client.json` the fake wrote: tenant_id, client_id, client_secret.
    static func client(_ fake: CloudFakeServer) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(fake.stateDirectory)/client.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
    }

    /// The client-secret environment of the fake's client.
    static func secretEnvironment(_ fake: CloudFakeServer) throws -> [String: String] {
        let client = try client(fake)
        return ["AZURE_TENANT_ID": client["tenant_id"] ?? "", "AZURE_CLIENT_ID": client["client_id"] ?? "",
                "AZURE_CLIENT_SECRET": client["client_secret"] ?? ""]
    }

    static func config(_ fake: CloudFakeServer, configure: (inout AzureKeyVaultConfig) -> Void = { _ in }) -> AzureKeyVaultConfig {
        var config = AzureKeyVaultConfig(vaultURL: vaultURL, endpoint: url(fake), authorityHost: url(fake),
                                         managedIdentityEndpoint: url(fake), caFile: "\(fake.stateDirectory)/ca.pem",
                                         requestTimeout: 5, callDeadline: 20, maxAttempts: 6)
        config.retryBaseDelay = 0.02
        config.retryMaxDelay = 0.3
        configure(&config)
        return config
    }

    /// A backend on `fake` with the client secret the fake wrote (or `environment`), and short retry waits.
    static func backend(_ fake: CloudFakeServer, environment: [String: String]? = nil,
                        configure: (inout AzureKeyVaultConfig) -> Void = { _ in }) throws -> AzureKeyVaultBackend {
        try AzureKeyVaultBackend(config: config(fake, configure: configure), environment: environment ?? secretEnvironment(fake))
    }
}
