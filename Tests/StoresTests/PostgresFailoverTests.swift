import Core
import Foundation
@testable import Stores
import Testing
import TestSupport

/// An asynchronous failover that loses the last writes, on a throwaway primary and its
/// streaming replica (`pg_basebackup -R`): streaming cut before the lost writes, kill -9
/// of the primary, promotion of the replica.
@Suite
struct PostgresFailoverTests {
    static let trustDomain = "failover.example"

    @Test func fencingTokensKeepIncreasingAcrossALossyFailoverAndAStandbyIsNotHealthy() async throws {
        let primary = try PostgresPrivateCluster()
        try primary.start()
        defer { primary.destroy() }
        let a = try await PostgresStore(url: primary.url, instanceID: "a")
        let early = try await a.acquire(lock: "rotation", holder: "a", ttl: .seconds(30), wait: .zero)
        _ = try await a.update(trustDomain: Self.trustDomain, fence: Fence(lock: "rotation", token: early.fencingToken)) {
            $0.append(PostgresTestSupport.record(Self.trustDomain, kid: "k1"))
        }
        try await a.release(lock: "rotation", leaseID: early.leaseID)

        let replica = try PostgresPrivateCluster(replicaOf: primary)
        try replica.start()
        defer { replica.destroy() }
        let watcher = try await PostgresTestSupport.connect(primary.url)
        #expect(try await PostgresTestSupport.eventually {
            try await watcher.query("""
                SELECT coalesce(bool_and(replay_lsn = pg_current_wal_lsn()), false) AS caught_up FROM pg_stat_replication
                """).bool(0, "caught_up")
        })
        await watcher.close()

        // A sidecar pointed at the standby (no target_session_attrs) reads but cannot write.
        let onStandby = try await PostgresStore(url: replica.url, instanceID: "standby")
        let health = await onStandby.healthCheck()
        if case .failure(let reason) = health {
            #expect(reason.description.contains("read-only"))
        } else {
            Issue.record("a read-only standby passed the health check")
        }
        await onStandby.close()

        // Streaming cut; then the writes the failover loses.
        try replica.stop()
        let lost = try await a.acquire(lock: "rotation", holder: "a", ttl: .seconds(30), wait: .zero)
        _ = try await a.update(trustDomain: Self.trustDomain, fence: Fence(lock: "rotation", token: lost.fencingToken)) {
            $0.append(PostgresTestSupport.record(Self.trustDomain, kid: "k2-lost"))
        }
        try primary.kill9()
        try replica.start()
        try replica.promote()

        let b = try await PostgresStore(url: replica.url, instanceID: "b")
        #expect(try await b.snapshot(trustDomain: Self.trustDomain).records.map(\.kid) == ["k1"], "the lost write is gone")
        #expect(await b.healthCheck().isSuccess)
        let next = try await b.acquire(lock: "rotation", holder: "b", ttl: .seconds(30), wait: .zero)
        #expect(next.fencingToken > lost.fencingToken, "token \(next.fencingToken) after the lost \(lost.fencingToken)")
        await #expect(throws: CoordinationError.self) {
            _ = try await b.update(trustDomain: Self.trustDomain, fence: Fence(lock: "rotation", token: lost.fencingToken)) {
                $0.append(PostgresTestSupport.record(Self.trustDomain, kid: "stale"))
            }
        }
        #expect(try await b.snapshot(trustDomain: Self.trustDomain).records.map(\.kid) == ["k1"])
        try await b.release(lock: "rotation", leaseID: next.leaseID)
        await b.close()
        await a.close()
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
