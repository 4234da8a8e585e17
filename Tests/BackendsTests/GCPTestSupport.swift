import Core
import Foundation
import TestSupport
@testable import Backends

/// The Cloud KMS fake (Tests/python/fakes/gcp_kms_fake.py) and backends on it.
enum GCPTestSupport {
    /// A fresh fake: faults and state of its own, so tests may run in parallel.
    static func fake(_ arguments: [String] = []) async throws -> CloudFakeServer {
        try await AWSTestSupport.offPool { try CloudFakeServer("gcp_kms_fake.py", arguments: arguments) }
    }

    /// A backend on `fake` with the service-account file the fake wrote, and short retry waits.
    static func backend(_ fake: CloudFakeServer, environment: [String: String] = [:],
                        configure: (inout GCPKMSConfig) -> Void = { _ in }) throws -> GCPKMSBackend {
        var config = GCPKMSConfig(project: "fake-project", location: "global", keyRing: "keycoord-test",
                                  endpoint: fake.url, credentialsFile: "\(fake.stateDirectory)/service-account.json",
                                  requestTimeout: 5, callDeadline: 20, maxAttempts: 6, pendingTimeout: 10)
        config.retryBaseDelay = 0.02
        config.retryMaxDelay = 0.3
        configure(&config)
        return try GCPKMSBackend(config: config, environment: environment)
    }
}
