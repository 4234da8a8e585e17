import EventIO
import Foundation
import Testing
@testable import Stores

@Suite
struct PostgresDriverTests {
    /// How a statement waits for its answer: blocking the connection's queue, or through a
    /// reactor as on an HTTP event loop (the test checks the reactor was really used).
    enum Path: String, CaseIterable, Sendable {
        case blocking, reactor

        func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
            guard self == .reactor else { return try await body() }
            let reactor = PollReactor()
            let value = try await CurrentReactor.$value.withValue(reactor) { try await body() }
            #expect(reactor.waitCount >= 1)
            return value
        }
    }

    @Test(arguments: Path.allCases)
    func parametersAndTypedResults(_ path: Path) async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let rows = try await path.run { try await connection.query(
            "SELECT $1::bigint AS n, $2::text AS s, $3::text AS missing, $4::boolean AS b, $5::float8 AS d",
            ["-9223372036854775808", "héllo", nil, "true", "1.5"]) }
        #expect(try rows.int64(0, "n") == Int64.min)
        #expect(try rows.string(0, "s") == "héllo")
        #expect(try rows.optionalString(0, "missing") == nil)
        #expect(try rows.bool(0, "b"))
        #expect(try rows.double(0, "d") == 1.5)
        #expect(throws: PGError.self) { try rows.int64(0, "missing") }
        #expect(throws: PGError.self) { try rows.string(0, "nope") }
    }

    @Test(arguments: Path.allCases)
    func serverErrorsCarrySQLState(_ path: Path) async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        try await path.run {
            try await connection.query("CREATE TABLE t (k text PRIMARY KEY)")
            try await connection.query("INSERT INTO t VALUES ($1)", ["a"])
            do {
                try await connection.query("INSERT INTO t VALUES ($1)", ["a"])
                Issue.record("duplicate insert succeeded")
            } catch let error as PGError {
                #expect(error.kind == .server)
                #expect(error.sqlState == "23505")
                #expect(error.message.contains("duplicate key"))
            }
            // The session survives a statement error, in step: the next answer is its own.
            #expect(try await connection.query("SELECT count(*) AS n FROM t").int64(0, "n") == 1)
            #expect(connection.isIdle)
        }
    }

    @Test func injectionAttemptStaysData() async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE t (k text PRIMARY KEY)")
        let hostile = "x'); DROP TABLE t; --"
        try await connection.query("INSERT INTO t VALUES ($1)", [hostile])
        let rows = try await connection.query("SELECT k FROM t")
        #expect(rows.count == 1)
        #expect(try rows.string(0, "k") == hostile)
    }

    @Test func connectionLossIsDetectedAndReconnectWorks() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let victim = try await PostgresTestSupport.connect(url)
        let killer = try await PostgresTestSupport.connect(url)
        defer { Task { await victim.close(); await killer.close() } }
        let pid = victim.backendPID
        #expect(try await killer.query("SELECT pg_terminate_backend($1) AS ok", [String(pid)]).bool(0, "ok"))
        do {
            try await victim.query("SELECT 1")
            Issue.record("query on a terminated session succeeded")
        } catch let error as PGError {
            #expect(error.kind == .connectionLost)
            #expect(error.isUnavailable)
        }
        #expect(victim.isConnected == false)
        try await victim.reconnect()
        #expect(try await victim.query("SELECT 2 AS n").int64(0, "n") == 2)
        #expect(victim.backendPID != pid)
    }

    @Test func unreachableServerFailsFast() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: PGError.self) {
            _ = try await PGConnection.connect(PGSettings(url: "postgresql://nobody@127.0.0.1:1/none"))
        }
        #expect(clock.now - started < .seconds(6))
    }

    @Test func defaultsYieldToTheURL() {
        let parameters = PGSettings(url: "postgresql://h/db?connect_timeout=9").connectionParameters(environment: [:])
        // The URL comes last, so libpq keeps its values over the defaults before it.
        #expect(parameters.last?.0 == "dbname")
        #expect(parameters.contains { $0 == ("keepalives_idle", "5") })
        let fromEnvironment = PGSettings(url: "").connectionParameters(environment: ["PGCONNECT_TIMEOUT": "2"])
        #expect(!fromEnvironment.contains { $0.0 == "connect_timeout" })
        #expect(!fromEnvironment.contains { $0.0 == "dbname" })
    }

    @Test func sessionDefaultsApply() async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        #expect(try await connection.query("SHOW statement_timeout").string(0, "statement_timeout") == "30s")
        // Server-side keepalives (the test server is reached over TCP).
        #expect(try await connection.query("SHOW tcp_keepalives_idle").string(0, "tcp_keepalives_idle") == "5")
        #expect(try await connection.query("SHOW tcp_keepalives_count").string(0, "tcp_keepalives_count") == "3")
    }

    @Test func lockKeyIsStable() {
        // First 8 bytes of SHA-256("keycoord/jwt:example.org:ec-p256"), big-endian, signed, as
        // computed by Python: struct.unpack('>q', hashlib.sha256(b'keycoord/...').digest()[:8]).
        let key = PGLockKey("jwt:example.org:ec-p256")
        #expect(key.value == 8_164_998_786_200_930_024)
        #expect(key == PGLockKey("jwt:example.org:ec-p256"))
        #expect(key != PGLockKey("jwt:example.org:ec-p384"))
        #expect(UInt64(key.classID)! << 32 | UInt64(key.objectID)! == UInt64(bitPattern: key.value))
    }
}
