import Core
import Foundation
import Testing
@testable import Stores

@Suite
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

    /// A database at schema 2 holding a record written before taint reasons were kept:
    /// migration 3 adds the column, the record reads with no reason, and a write of a
    /// reason fills both the record and the column.
    @Test func aRecordFromBeforeMigration3ReadsWithNoTaintReason() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let connection = try await PostgresTestSupport.connect(url)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE keycoord_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        for version in 1...2 {
            for statement in PGMigrator.migrations[version - 1] { try await connection.query(statement) }
            try await connection.query("INSERT INTO keycoord_schema (version) VALUES ($1)", [String(version)])
        }
        let older = """
            {"backend":"external","createdAt":800000000,"createdBy":"old-server","keyType":"ec-p256","kid":"old-kid",
             "notAfter":900000000,"publicKey":[7,7,7],"publishedAt":800000000,"state":"published","tainted":true,
             "trustDomain":"example.org"}
            """
        try await connection.query(
            """
            INSERT INTO keycoord_keys (trust_domain, kid, position, state, not_after, record, sequence)
            VALUES ('example.org', 'old-kid', 0, 'published', now(), $1::jsonb, 1)
            """, [older])
        try await connection.query("INSERT INTO keycoord_sequences (trust_domain, sequence) VALUES ('example.org', 1)")

        #expect(try await PostgresStore.migrate(url: url) == PostgresStore.schemaVersion)
        let store = try await PostgresStore(url: url, instanceID: "new-binary")
        let read = try #require(try await store.snapshot(trustDomain: "example.org").records.first)
        #expect(read.kid == "old-kid" && read.tainted && read.taintReason == nil)
        let column = try await connection.query("SELECT taint_reason FROM keycoord_keys WHERE kid = 'old-kid'")
        #expect(try column.optionalString(0, "taint_reason") == nil)
        _ = try await store.update(trustDomain: "example.org", fence: nil) { $0[0].taintReason = "kept now" }
        let after = try await connection.query("SELECT taint_reason, record->>'taintReason' AS inner FROM keycoord_keys WHERE kid = 'old-kid'")
        #expect(try after.optionalString(0, "taint_reason") == "kept now" && after.optionalString(0, "inner") == "kept now")
        #expect(try await store.snapshot(trustDomain: "example.org").records.first?.taintReason == "kept now")
        await store.close()
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

    @Test func migratedDatabaseNeedsOnlyDMLGrantsForSidecars() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        _ = try await PostgresStore.migrate(url: url)
        let role = "keycoord_dml_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try await PostgresTestSupport.connect(url)
        defer { Task { await admin.close() } }
        // The role name is generated here (hex only), so building DDL from it is safe.
        try await admin.query("CREATE ROLE \(role) LOGIN")
        try await admin.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        try await admin.query(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON keycoord_schema, keycoord_keys, keycoord_sequences, keycoord_lock_epochs TO \(role)")
        guard var components = URLComponents(string: url) else { throw PostgresTestError("bad URL") }
        components.user = role
        let sidecarURL = try #require(components.string)
        let store = try await PostgresStore(url: sidecarURL, instanceID: "dml-only")
        let lease = try await store.acquire(lock: "l", holder: "h", ttl: .seconds(5), wait: .zero)
        _ = try await store.update(trustDomain: "td", fence: Fence(lock: "l", token: lease.fencingToken)) {
            $0.append(PostgresTestSupport.record("td", kid: "k"))
        }
        try await store.release(lock: "l", leaseID: lease.leaseID)
        await store.close()
        // Without the schema in place, the same role cannot migrate and says so.
        let empty = try await PostgresTestSupport.freshDatabase()
        guard var emptyComponents = URLComponents(string: empty) else { throw PostgresTestError("bad URL") }
        emptyComponents.user = role
        let emptyAdmin = try await PostgresTestSupport.connect(empty)
        defer { Task { await emptyAdmin.close() } }
        try await emptyAdmin.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await #expect(throws: CoordinationError.self) {
            _ = try await PostgresStore(url: try #require(emptyComponents.string), instanceID: "dml-only")
        }
    }

    @Test func unreachableDatabaseIsStoreUnavailable() async throws {
        await #expect(throws: CoordinationError.self) {
            _ = try await PostgresStore(url: "postgresql://nobody@127.0.0.1:1/none", instanceID: "x")
        }
    }
}
