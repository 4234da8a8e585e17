import Core
import EventIO
import Foundation
import Testing
import TestSupport
@testable import Stores

/// The driver's non-blocking path: with `CurrentReactor.value` set (as the HTTP event loops
/// set it for lock requests), statements are sent without blocking and their answers are
/// awaited through the reactor. The same contract and failure behaviour as the blocking path
/// (PostgresDriverTests runs its statement tests on both paths).
@Suite
struct PostgresReactorTests {
    @Test func aTerminatedSessionFailsAsConnectionLost() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let victim = try await PostgresTestSupport.connect(url)
        let killer = try await PostgresTestSupport.connect(url)
        defer { Task { await victim.close(); await killer.close() } }
        let pid = victim.backendPID
        try await CurrentReactor.$value.withValue(PollReactor()) {
            // Killed while the statement runs: the wait ends and the error says so.
            async let killed: Void = {
                try await Task.sleep(for: .milliseconds(200))
                _ = try await killer.query("SELECT pg_terminate_backend($1)", [String(pid)])
            }()
            do {
                try await victim.query("SELECT pg_sleep(10)")
                Issue.record("a statement on a terminated session succeeded")
            } catch let error as PGError {
                #expect(error.kind == .connectionLost)
            }
            try await killed
        }
        #expect(victim.isConnected == false)
    }

    @Test func aReactorThatStoppedWatchingFallsBackToBlocking() async throws {
        let reactor = PollReactor(refusing: true)
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let rows = try await CurrentReactor.$value.withValue(reactor) {
            try await connection.query("SELECT pg_sleep(0.05)::text AS slept, 7 AS n")
        }
        #expect(try rows.int64(0, "n") == 7)
        #expect(reactor.waitCount >= 1)
    }

    /// A lease's session can be reached by two tasks at once (a renew racing the lease's
    /// expiry): they take turns, whichever path each uses, and each gets its own answer.
    @Test func concurrentCallersOfOneSessionTakeTurns() async throws {
        let connection = try await PostgresTestSupport.connect(try await PostgresTestSupport.freshDatabase())
        defer { Task { await connection.close() } }
        let started = ContinuousClock.now
        async let onReactor = CurrentReactor.$value.withValue(PollReactor()) {
            try await connection.query("SELECT pg_sleep(0.2)::text AS slept, 1 AS n")
        }
        async let blocking = connection.query("SELECT pg_sleep(0.2)::text AS slept, 2 AS n")
        let (first, second) = try await (onReactor, blocking)
        #expect(try first.int64(0, "n") == 1)
        #expect(try second.int64(0, "n") == 2)
        #expect(ContinuousClock.now - started >= .milliseconds(400), "the two statements ran one after the other")
        #expect(connection.isIdle)
    }

    /// The whole store contract with every lock statement on the non-blocking path.
    @Test(arguments: StoreConformance.Check.allCases)
    func conformanceThroughTheReactor(_ check: StoreConformance.Check) async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let reactor = PollReactor()
        try await CurrentReactor.$value.withValue(reactor) {
            try await StoreConformance { try await PostgresStore(url: url, instanceID: "instance-\(UUID().uuidString)") }.run(check)
        }
        #expect(reactor.waitCount >= 1)
    }

    @Test func waitingAcquireTimesOutAndIsGrantedOnRelease() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let a = try await PostgresStore(url: url, instanceID: "a")
        let b = try await PostgresStore(url: url, instanceID: "b")
        try await CurrentReactor.$value.withValue(PollReactor()) {
            let held = try await a.acquire(lock: "w", holder: "one", ttl: .seconds(30), wait: .zero)
            await #expect(throws: CoordinationError.self) {
                _ = try await b.acquire(lock: "w", holder: "two", ttl: .seconds(30), wait: .seconds(1))
            }
            async let waiting = b.acquire(lock: "w", holder: "two", ttl: .seconds(30), wait: .seconds(10))
            try await Task.sleep(for: .milliseconds(200))
            try await a.release(lock: "w", leaseID: held.leaseID)
            let granted = try await waiting
            #expect(granted.fencingToken > held.fencingToken)
            #expect(try await a.status(lock: "w").holder == "two")
        }
        await a.close()
        await b.close()
    }
}
