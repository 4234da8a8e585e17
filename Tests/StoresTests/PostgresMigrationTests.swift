import Core
import Foundation
import Testing
@testable import Stores

@Suite(.enabled(if: PostgresTestSupport.available))
struct PostgresMigrationTests {
    @Test func emptyDatabaseThenIdempotentRerun() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        #expect(try await PostgresStore.migrate(url: url) == PostgresStore.schemaVersion)
        #expect(try await PostgresStore.migrate(url: url) == PostgresStore.schemaVersion)
        let connection = try await PostgresTestSupport.connect(url)
        defer { Task { await connection.close() } }
        let versions = try await connection.query("SELECT version FROM keycoord_schema ORDER BY version")
        #expect(versions.count == PostgresStore.schemaVersion)
        let tables = try await connection.query(
            "SELECT count(*) AS n FROM pg_tables WHERE tablename IN ('keycoord_keys', 'keycoord_sequences', 'keycoord_lock_epochs')")
        #expect(try tables.int64(0, "n") == 3)
    }

    @Test func concurrentMigrationsApplyOnce() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 { group.addTask { try await PostgresStore.migrate(url: url) } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(versions == Array(repeating: PostgresStore.schemaVersion, count: 5))
        let connection = try await PostgresTestSupport.connect(url)
        defer { Task { await connection.close() } }
        #expect(try await connection.query("SELECT count(*) AS n FROM keycoord_schema").int64(0, "n")
            == Int64(PostgresStore.schemaVersion))
    }

    @Test func newerSchemaIsRefused() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        _ = try await PostgresStore.migrate(url: url)
        let connection = try await PostgresTestSupport.connect(url)
        defer { Task { await connection.close() } }
        try await connection.query("INSERT INTO keycoord_schema (version) VALUES ($1)", [String(PostgresStore.schemaVersion + 1)])
        for attempt in 0..<2 {
            do {
                if attempt == 0 {
                    _ = try await PostgresStore.migrate(url: url)
                } else {
                    _ = try await PostgresStore(url: url, instanceID: "old-binary")
                }
                Issue.record("a newer schema was accepted")
            } catch let CoordinationError.storeUnavailable(message) {
                #expect(message.contains("newer") || message.contains("knows only up to"))
            }
        }
    }

    @Test func unreachableDatabaseIsStoreUnavailable() async throws {
        await #expect(throws: CoordinationError.self) {
            _ = try await PostgresStore(url: "postgresql://nobody@127.0.0.1:1/none", instanceID: "x")
        }
    }
}
