import TestSupport

/// The backend conformance suite's faults, injected through a cloud fake's admin API
/// (Tests/python/fakes/README.md): `create` and `sign` name the fake's operations.
struct CloudFakeFaults: BackendConformance.Faults {
    let fake: CloudFakeServer
    let create: String
    let sign: String

    private func name(_ operation: BackendConformance.Operation) -> String {
        switch operation {
        case .create: return create
        case .sign: return sign
        }
    }

    func loseNextAnswer(_ operation: BackendConformance.Operation) async throws {
        try await fake.fault([["match": name(operation), "drop": true]])
    }

    func throttle(_ operation: BackendConformance.Operation, times: Int) async throws {
        try await fake.fault([["match": name(operation), "status": 429, "count": times]])
    }

    func deny(_ operation: BackendConformance.Operation) async throws {
        try await fake.fault([["match": name(operation), "status": 403]])
    }
}
