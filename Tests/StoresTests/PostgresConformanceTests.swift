import Core
import Foundation
import Stores
import Testing
import TestSupport

/// The same store contract FileStore meets, run against PostgresStore instances that
/// share one fresh database.
@Suite
struct PostgresConformanceTests {
    @Test(arguments: StoreConformance.Check.allCases)
    func conformance(_ check: StoreConformance.Check) async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        try await StoreConformance { try await PostgresStore(url: url, instanceID: "instance-\(UUID().uuidString)") }.run(check)
    }
}
