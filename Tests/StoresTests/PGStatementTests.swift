import EventIO
import Foundation
import Testing
@testable import Stores

/// Prepared statements against a real PostgreSQL, on both ways a statement waits
/// (`PostgresDriverTests.Path`): prepared once per session on first use, with errors of the
/// Prepare and of the execution told apart, and a new session preparing anew.
@Suite
struct PGStatementTests {
    typealias Path = PostgresDriverTests.Path

    /// The statement's row in the session's `pg_prepared_statements`: when it was prepared,
    /// nil if it is not.
    static func preparedAt(_ statement: PGStatement, on connection: PGConnection) async throws -> String? {
        let rows = try await connection.query("SELECT prepare_time::text AS at FROM pg_prepared_statements WHERE name = $1",
                                              [statement.name])
        return rows.count == 0 ? nil : try rows.string(0, "at")
    }

    /// The error `statement` fails with on `path`; the test fails if it succeeds.
    static func failure(of statement: PGStatement, _ parameters: [String?], on connection: PGConnection,
                        _ path: Path) async throws -> PGError {
        try await #require(throws: PGError.self) {
            try await path.run { try await connection.query(statement, parameters) }
        }
    }

    @Test func theNameFollowsTheText() throws {
        // 64-bit FNV-1a of "a" is 0xaf63dc4c8601ec8c (the published test vector).
        #expect(PGStatement("a").name == "keycoord_af63dc4c8601ec8c")
        #expect(PGStatement("SELECT 1").name == PGStatement("SELECT 1").name)
        #expect(PGStatement("SELECT 1").name != PGStatement("SELECT 2").name)
        // Leading zeros are kept: every name has the same length.
        let names = (0..<200).compactMap { PGStatement("SELECT \($0)").name }
        #expect(names.count == 200)
        #expect(names.allSatisfy { $0.utf8.count == "keycoord_".utf8.count + 16 })
        #expect(PGStatement.oneOff("SELECT 1").name == nil)
    }

    @Test(arguments: Path.allCases)
    func aNamedStatementIsPreparedOnceAndBindsEachCallsParameters(_ path: Path) async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let statement = PGStatement("SELECT $1::bigint * 2 AS doubled, $2::text AS label")
        #expect(try await Self.preparedAt(statement, on: connection) == nil)
        let first = try await path.run { try await connection.query(statement, ["21", "first"]) }
        #expect(try first.int64(0, "doubled") == 42)
        #expect(try first.string(0, "label") == "first")
        let preparedAt = try #require(try await Self.preparedAt(statement, on: connection))
        let second = try await path.run { try await connection.query(statement, ["-5", nil]) }
        #expect(try second.int64(0, "doubled") == -10)
        #expect(try second.optionalString(0, "label") == nil)
        // The second call executed what the first prepared; it did not prepare again.
        #expect(try await Self.preparedAt(statement, on: connection) == preparedAt)
        #expect(connection.isIdle)
    }

    @Test(arguments: Path.allCases)
    func aStatementThePrepareRefusesFailsEveryTimeAndTheSessionGoesOn(_ path: Path) async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let missingTable = PGStatement("SELECT n FROM no_such_table WHERE n = $1::int")
        for _ in 0..<2 {
            let error = try await Self.failure(of: missingTable, ["1"], on: connection, path)
            #expect(error.kind == .server)
            #expect(error.sqlState == "42P01")
            #expect(try await Self.preparedAt(missingTable, on: connection) == nil)
        }
        // In step: the next answer is the next statement's own.
        #expect(try await path.run { try await connection.query(PGStatement("SELECT $1::int + 1 AS n"), ["1"]) }.int64(0, "n") == 2)
        // Once the table exists, the same statement prepares and runs.
        try await connection.query("CREATE TABLE no_such_table (n int)")
        try await connection.query("INSERT INTO no_such_table VALUES (1)")
        #expect(try await path.run { try await connection.query(missingTable, ["1"]) }.int64(0, "n") == 1)
    }

    @Test(arguments: Path.allCases)
    func anExecutionErrorLeavesTheStatementPrepared(_ path: Path) async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let division = PGStatement("SELECT 10 / $1::int AS q")
        let error = try await Self.failure(of: division, ["0"], on: connection, path)
        #expect(error.sqlState == "22012")
        #expect(try await Self.preparedAt(division, on: connection) != nil)
        #expect(try await path.run { try await connection.query(division, ["5"]) }.int64(0, "q") == 2)
    }

    @Test(arguments: Path.allCases)
    func aFirstUseInsideAFailedTransactionFailsLikeAnyStatementThere(_ path: Path) async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let statement = PGStatement("SELECT $1::int AS n")
        try await connection.query("BEGIN")
        _ = try? await connection.query("SELECT 1 / 0")
        let error = try await Self.failure(of: statement, ["7"], on: connection, path)
        #expect(error.sqlState == "25P02")
        try await connection.query("ROLLBACK")
        #expect(try await path.run { try await connection.query(statement, ["7"]) }.int64(0, "n") == 7)
    }

    @Test func aNewSessionPreparesAgain() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let victim = try await PostgresTestSupport.connect(url)
        let killer = try await PostgresTestSupport.connect(url)
        defer { Task { await victim.close(); await killer.close() } }
        let statement = PGStatement("SELECT $1::text || '!' AS shout")
        #expect(try await victim.query(statement, ["a"]).string(0, "shout") == "a!")
        #expect(try await killer.query("SELECT pg_terminate_backend($1) AS ok", [String(victim.backendPID)]).bool(0, "ok"))
        let error = try await #require(throws: PGError.self) { try await victim.query(statement, ["b"]) }
        #expect(error.kind == .connectionLost)
        try await victim.reconnect()
        #expect(try await Self.preparedAt(statement, on: victim) == nil)
        #expect(try await victim.query(statement, ["c"]).string(0, "shout") == "c!")
        #expect(try await Self.preparedAt(statement, on: victim) != nil)
    }
}
