import Core
import Foundation
import Testing
@testable import Stores

@Suite
struct PostgresRegistryTests {
    private struct Refused: Error {}

    private func stores() async throws -> (a: PostgresStore, b: PostgresStore) {
        let url = try await PostgresTestSupport.freshDatabase()
        return (try await PostgresStore(url: url, instanceID: "sidecar-a"), try await PostgresStore(url: url, instanceID: "sidecar-b"))
    }

    @Test func concurrentUpdatesFromTwoInstancesLoseNothing() async throws {
        let (a, b) = try await stores()
        let sequences = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for index in 0..<50 {
                let store = index % 2 == 0 ? a : b
                group.addTask {
                    try await store.update(trustDomain: "td.example", fence: nil) { records in
                        records.append(PostgresTestSupport.record("td.example", kid: "k\(index)"))
                    }.snapshot.sequence
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(Set(sequences) == Set(1...50))
        let snapshot = try await a.snapshot(trustDomain: "td.example")
        #expect(snapshot.sequence == 50)
        #expect(Set(snapshot.records.map(\.kid)) == Set((0..<50).map { "k\($0)" }))
        #expect(try await b.snapshot(trustDomain: "td.example") == snapshot)
        await a.close()
        await b.close()
    }

    @Test func recordsRoundTripInOrderAndOnlyRealChangesCommit() async throws {
        let (a, b) = try await stores()
        let originals = ["k1", "k2", "k3"].map { PostgresTestSupport.record("td.example", kid: $0) }
        let first = try await a.update(trustDomain: "td.example", fence: nil) { records in
            records.append(contentsOf: originals)
            return records.count
        }
        #expect(first.result == 3)
        #expect(first.snapshot.sequence == 1)
        // Read back by the other instance, field for field (dates included).
        #expect(try await b.snapshot(trustDomain: "td.example").records == originals)

        let unchanged = try await b.update(trustDomain: "td.example", fence: nil) { _ in "noop" }
        #expect(unchanged.snapshot.sequence == 1)
        await #expect(throws: Refused.self) {
            _ = try await a.update(trustDomain: "td.example", fence: nil) { records in
                records.removeAll()
                throw Refused()
            }
        }
        #expect(try await a.snapshot(trustDomain: "td.example").records == originals)

        let changed = try await b.update(trustDomain: "td.example", fence: nil) { records in
            records.removeFirst()
            records[1].tainted = true
            records.reverse()
            records.append(PostgresTestSupport.record("td.example", kid: "k4"))
        }
        #expect(changed.snapshot.sequence == 2)
        let read = try await a.snapshot(trustDomain: "td.example")
        #expect(read == changed.snapshot)
        #expect(read.records.map(\.kid) == ["k3", "k2", "k4"])
        #expect(read.records[0].tainted)

        await #expect(throws: CoordinationError.self) {
            _ = try await a.update(trustDomain: "td.example", fence: nil) { records in records.append(records[0]) }
        }
        await #expect(throws: CoordinationError.self) {
            _ = try await a.update(trustDomain: "td.example", fence: nil) { records in
                records.append(PostgresTestSupport.record("td.example", kid: ""))
            }
        }
        #expect(try await a.snapshot(trustDomain: "td.example") == read)
        #expect(try await a.snapshot(trustDomain: "other.example") == RegistrySnapshot(records: [], sequence: 0))
        await a.close()
        await b.close()
    }

    @Test func staleFenceWritesNothing() async throws {
        let (a, b) = try await stores()
        let old = try await a.acquire(lock: "jwt:td.example:ec-p256", holder: "s1", ttl: .seconds(30), wait: .zero)
        try await a.release(lock: "jwt:td.example:ec-p256", leaseID: old.leaseID)
        let current = try await b.acquire(lock: "jwt:td.example:ec-p256", holder: "s2", ttl: .seconds(30), wait: .zero)
        let before = try await a.snapshot(trustDomain: "td.example")
        await #expect(throws: CoordinationError.staleFence(lock: "jwt:td.example:ec-p256", presented: old.fencingToken,
                                                           current: current.fencingToken)) {
            _ = try await a.update(trustDomain: "td.example", fence: Fence(lock: "jwt:td.example:ec-p256", token: old.fencingToken)) {
                $0.append(PostgresTestSupport.record("td.example", kid: "stale"))
            }
        }
        await #expect(throws: CoordinationError.staleFence(lock: "never-taken", presented: 1, current: 0)) {
            _ = try await a.update(trustDomain: "td.example", fence: Fence(lock: "never-taken", token: 1)) {
                $0.append(PostgresTestSupport.record("td.example", kid: "stale"))
            }
        }
        #expect(try await b.snapshot(trustDomain: "td.example") == before)
        let fenced = try await a.update(trustDomain: "td.example",
                                        fence: Fence(lock: "jwt:td.example:ec-p256", token: current.fencingToken)) {
            $0.append(PostgresTestSupport.record("td.example", kid: "fresh"))
        }
        #expect(fenced.snapshot.records.map(\.kid) == ["fresh"])
        await a.close()
        await b.close()
    }

    @Test func waitForChangeWakesOnAnotherInstancesWrite() async throws {
        let (a, b) = try await stores()
        let clock = ContinuousClock()
        // Nothing changes: returns the current sequence at the timeout.
        let idleStart = clock.now
        #expect(try await b.waitForChange(trustDomain: "td.example", after: 0, timeout: .milliseconds(300)) == 0)
        #expect(clock.now - idleStart >= .milliseconds(250))
        #expect(await PostgresTestSupport.eventually { b.isFollowingChanges })

        var latencies: [Duration] = []
        for round in 1...5 {
            async let woke: (UInt64, ContinuousClock.Instant) = {
                let sequence = try await b.waitForChange(trustDomain: "td.example", after: UInt64(round - 1), timeout: .seconds(10))
                return (sequence, clock.now)
            }()
            try await Task.sleep(for: .milliseconds(100))
            _ = try await a.update(trustDomain: "td.example", fence: nil) {
                $0.append(PostgresTestSupport.record("td.example", kid: "k\(round)"))
            }
            let committed = clock.now
            let (sequence, at) = try await woke
            #expect(sequence == UInt64(round))
            latencies.append(at - committed)
        }
        // Loose bound for a loaded machine; the poll fallback alone would take up to 1 s.
        #expect(latencies.max()! < .seconds(2))
        // Already past: returns at once.
        #expect(try await b.waitForChange(trustDomain: "td.example", after: 2, timeout: .seconds(10)) == 5)
        await a.close()
        await b.close()
    }
}
