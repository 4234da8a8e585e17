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

    /// Conformance faults through the fake's admin API.
    struct Faults: BackendConformance.Faults {
        let fake: CloudFakeServer

        static func operation(_ operation: BackendConformance.Operation) -> String {
            switch operation {
            case .create: return "createCryptoKey"
            case .sign: return "asymmetricSign"
            }
        }

        func loseNextAnswer(_ operation: BackendConformance.Operation) async throws {
            try await fake.fault([["match": Self.operation(operation), "drop": true]])
        }

        func throttle(_ operation: BackendConformance.Operation, times: Int) async throws {
            try await fake.fault([["match": Self.operation(operation), "status": 429, "count": times]])
        }

        func deny(_ operation: BackendConformance.Operation) async throws {
            try await fake.fault([["match": Self.operation(operation), "status": 403]])
        }
    }
}
