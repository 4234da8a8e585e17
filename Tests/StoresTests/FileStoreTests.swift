import Core
import Foundation
import Stores
import Testing
import TestSupport

/// The store contract, run against FileStore instances that share one directory.
@Suite struct FileStoreConformanceTests {
    @Test(arguments: StoreConformance.Check.allCases)
    func conformance(_ check: StoreConformance.Check) async throws {
        let scratch = try ScratchDirectory("filestore-conformance")
        let state = scratch.appending("state")
        try await StoreConformance({ try FileStore(directory: state, instanceID: "instance-\(UUID().uuidString)") },
                                   frozenHolder: HelperProcess.frozenHolder("hold-lock", state)).run(check)
    }
}

/// Behaviour specific to the file layout: modes, path safety, corrupt files, in-process serialisation.
@Suite struct FileStoreTests {
    let scratch: ScratchDirectory
    let state: String

    init() throws {
        scratch = try ScratchDirectory("filestore")
        state = scratch.appending("state")
    }

    func store(_ instance: String = "test") throws -> FileStore {
        try FileStore(directory: state, instanceID: instance)
    }

    @Test func layoutAndModes() async throws {
        let store = try store()
        let lease = try await store.acquire(lock: "jwt:example.org:ec-p256", holder: "server-1", ttl: .seconds(30), wait: .zero)
        _ = try await store.update(trustDomain: "example.org", fence: Fence(lock: lease.name, token: lease.fencingToken)) {
            $0.append(try SampleRecord.make(trustDomain: "example.org", kid: "k1"))
        }
        for directory in [state, "\(state)/locks", "\(state)/registry"] {
            #expect(try ScratchDirectory.permissions(of: directory) == 0o700, "\(directory)")
        }
        for file in ["locks/jwt:example.org:ec-p256.lock", "locks/jwt:example.org:ec-p256.lease",
                     "registry/example.org.json", "registry/example.org.lock"] {
            #expect(try ScratchDirectory.permissions(of: "\(state)/\(file)") == 0o600, "\(file)")
        }
        let leaseJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(state)/locks/jwt:example.org:ec-p256.lease"))) as? [String: Any]
        #expect(leaseJSON?["token"] as? Int == Int(lease.fencingToken))
        #expect((leaseJSON?["lease"] as? [String: Any])?["holder"] as? String == "server-1")
        let registry = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(state)/registry/example.org.json"))) as? [String: Any]
        #expect(registry?["sequence"] as? Int == 1 && registry?["trustDomain"] as? String == "example.org")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(state)/registry").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
        try await store.release(lock: lease.name, leaseID: lease.leaseID)
        let released = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(state)/locks/jwt:example.org:ec-p256.lease"))) as? [String: Any]
        #expect(released?["lease"] == nil && released?["token"] as? Int == Int(lease.fencingToken), "release keeps the epoch and clears the lease")
    }

    @Test func unsafeNamesNeverReachThePath() async throws {
        let store = try store()
        let badDomains = ["", ".", "..", "../escape", "a/b", "/abs", "Upper.example.org", "x..y", ".lead", "trail.",
                          "sp ace", "nul\u{0}x", String(repeating: "a", count: 64) + ".org", String(repeating: "a.", count: 128) + "z"]
        for domain in badDomains {
            await #expect(throws: CoordinationError.self, "\(domain.debugDescription)") {
                _ = try await store.snapshot(trustDomain: domain)
            }
            do {
                _ = try await store.update(trustDomain: domain, fence: nil) { $0 = [] }
                Issue.record("update accepted trust domain \(domain.debugDescription)")
            } catch let error as CoordinationError {
                guard case .invalid = error else { Issue.record("unexpected \(error)"); continue }
            }
            await #expect(throws: CoordinationError.self) {
                _ = try await store.waitForChange(trustDomain: domain, after: 0, timeout: .milliseconds(10))
            }
        }
        do {
            _ = try await store.update(trustDomain: "example.org", fence: Fence(lock: "../../etc", token: 1)) { $0 = [] }
            Issue.record("update accepted a fence on an invalid lock name")
        } catch CoordinationError.invalid {}
        await #expect(throws: CoordinationError.self) { _ = try await store.status(lock: "../x") }
        let outside = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(outside == ["state"], "files created beside the state directory: \(outside)")
        let registry = try FileManager.default.contentsOfDirectory(atPath: "\(state)/registry")
        #expect(registry.isEmpty, "bad names created registry files: \(registry)")
    }

    @Test func corruptRegistryIsReportedWithItsPath() async throws {
        let store = try store()
        let record = try SampleRecord.make(trustDomain: "example.org", kid: "k1")
        _ = try await store.update(trustDomain: "example.org", fence: nil) { $0.append(record) }
        let path = "\(state)/registry/example.org.json"
        let valid = try Data(contentsOf: URL(fileURLWithPath: path))

        let damaged: [(String, Data)] = [
            ("truncated", valid.prefix(valid.count / 2)),
            ("garbage", Data("\u{1}\u{2}not json".utf8)),
            ("empty", Data()),
            ("wrong shape", Data(#"{"format":1,"trustDomain":"example.org","sequence":"x","records":[]}"#.utf8)),
            ("other domain", Data(#"{"format":1,"trustDomain":"other.org","sequence":1,"records":[]}"#.utf8)),
            ("future format", Data(#"{"format":2,"trustDomain":"example.org","sequence":1,"records":[]}"#.utf8)),
        ]
        for (label, bytes) in damaged {
            try bytes.write(to: URL(fileURLWithPath: path))
            for attempt in 0..<2 {
                do {
                    if attempt == 0 {
                        _ = try await store.snapshot(trustDomain: "example.org")
                    } else {
                        _ = try await store.update(trustDomain: "example.org", fence: nil) { $0.append(record) }
                    }
                    Issue.record("\(label): a damaged registry was accepted")
                } catch CoordinationError.storeUnavailable(let message) {
                    #expect(message.contains(path), "\(label): \(message)")
                }
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes, "\(label): the damaged file was overwritten")
        }
        try valid.write(to: URL(fileURLWithPath: path))
        #expect(try await store.snapshot(trustDomain: "example.org").records == [record])
    }

    /// A registry file written before taint reasons were kept (no `taintReason` member)
    /// reads with no reason, and a later write keeps the record's other members as they were.
    @Test func aRecordWrittenBeforeTaintReasonsReadsWithNone() async throws {
        let store = try store()
        try FileManager.default.createDirectory(atPath: "\(state)/registry", withIntermediateDirectories: true)
        let older = #"""
            {"format":1,"records":[{"backend":"external","createdAt":800000000,"createdBy":"old-server",\#
            "keyType":"ec-p256","kid":"old-kid","notAfter":900000000,"publicKey":[7,7,7],\#
            "publishedAt":800000000,"state":"published","tainted":true,"trustDomain":"example.org"}],\#
            "sequence":3,"trustDomain":"example.org"}
            """#
        try Data(older.utf8).write(to: URL(fileURLWithPath: "\(state)/registry/example.org.json"))
        let read = try #require(try await store.snapshot(trustDomain: "example.org").records.first)
        #expect(read.kid == "old-kid" && read.tainted && read.taintReason == nil)
        #expect(read.createdAt == Date(timeIntervalSinceReferenceDate: 800_000_000))
        let (_, written) = try await store.update(trustDomain: "example.org", fence: nil) { $0[0].taintReason = "kept now" }
        #expect(written.records.first?.taintReason == "kept now" && written.sequence == 4)
    }

    @Test func corruptLeaseFileStopsGrantsWithItsPath() async throws {
        let store = try store()
        let lease = try await store.acquire(lock: "build", holder: "h", ttl: .seconds(30), wait: .zero)
        try await store.release(lock: "build", leaseID: lease.leaseID)
        let path = "\(state)/locks/build.lease"
        try Data("{\"token\":".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try await store.acquire(lock: "build", holder: "h", ttl: .seconds(30), wait: .zero)
            Issue.record("acquired a lock whose epoch is unreadable")
        } catch CoordinationError.storeUnavailable(let message) {
            #expect(message.contains(path))
        }
        // The failed grant must not keep the flock: once repaired, the lock is free at once.
        try Data(#"{"format":1,"token":41}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try await store.acquire(lock: "build", holder: "h", ttl: .seconds(30), wait: .zero).fencingToken == 42)
    }

    /// flock belongs to an open file description: each update opens its own, so tasks of
    /// one instance serialise exactly like separate processes. A lost read-modify-write
    /// would leave the counter below the number of updates.
    @Test func updatesFromOneInstanceSerialise() async throws {
        let store = try store()
        let base = try SampleRecord.make(trustDomain: "example.org", kid: "counter")
        let updates = 100
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<updates {
                group.addTask {
                    _ = try await store.update(trustDomain: "example.org", fence: nil) { records in
                        if records.isEmpty { records = [base] }
                        records[0].fencingToken = (records[0].fencingToken ?? 0) + 1
                    }
                }
            }
            try await group.waitForAll()
        }
        let snapshot = try await store.snapshot(trustDomain: "example.org")
        #expect(snapshot.records.first?.fencingToken == UInt64(updates))
        #expect(snapshot.sequence == UInt64(updates))
    }

    @Test func fenceOfAnEndedLeaseIsStaleEvenBeforeTheNextGrant() async throws {
        let store = try store()
        let record = try SampleRecord.make(trustDomain: "example.org", kid: "k1")
        let lease = try await store.acquire(lock: "rotate", holder: "h", ttl: .milliseconds(200), wait: .zero)
        try await Task.sleep(for: .milliseconds(500))
        do {
            _ = try await store.update(trustDomain: "example.org", fence: Fence(lock: "rotate", token: lease.fencingToken)) { $0.append(record) }
            Issue.record("write fenced by an expired lease was accepted")
        } catch CoordinationError.staleFence(let lock, let presented, let current) {
            #expect(lock == "rotate" && presented == lease.fencingToken && current == lease.fencingToken)
        }
        let other = try self.store("other")
        let second = try await other.acquire(lock: "rotate", holder: "h2", ttl: .seconds(30), wait: .zero)
        try await other.release(lock: "rotate", leaseID: second.leaseID)
        await #expect(throws: CoordinationError.staleFence(lock: "rotate", presented: second.fencingToken, current: second.fencingToken)) {
            _ = try await store.update(trustDomain: "example.org", fence: Fence(lock: "rotate", token: second.fencingToken)) { $0.append(record) }
        }
        #expect(try await store.snapshot(trustDomain: "example.org").sequence == 0)
    }

    /// `status` and fence checks probe with a shared flock held for microseconds; a grant
    /// with no wait must not mistake such a probe for a holder.
    @Test func momentaryProbeDoesNotFailAZeroWaitGrant() async throws {
        let store = try store()
        let first = try await store.acquire(lock: "probed", holder: "h", ttl: .seconds(5), wait: .zero)
        try await store.release(lock: "probed", leaseID: first.leaseID)
        let lockPath = "\(state)/locks/probed.lock"
        let probe = open(lockPath, O_RDONLY | O_CLOEXEC)
        try #require(probe >= 0 && flock(probe, LOCK_SH | LOCK_NB) == 0)
        Thread {
            usleep(1_000)
            close(probe)
        }.start()
        let lease = try await store.acquire(lock: "probed", holder: "h", ttl: .seconds(5), wait: .zero)
        try await store.release(lock: "probed", leaseID: lease.leaseID)
    }

    @Test func closeReleasesEveryLease() async throws {
        let first = try store("first")
        let second = try store("second")
        _ = try await first.acquire(lock: "a", holder: "h", ttl: .seconds(30), wait: .zero)
        _ = try await first.acquire(lock: "b", holder: "h", ttl: .seconds(30), wait: .zero)
        await first.close()
        for name in ["a", "b"] {
            let lease = try await second.acquire(lock: name, holder: "h2", ttl: .seconds(30), wait: .zero)
            #expect(lease.fencingToken == 2)
        }
        await second.close()
    }

    @Test func healthCheckReportsAnUnwritableDirectory() async throws {
        let store = try store()
        await #expect(throws: Never.self) { try await store.healthCheckResult() }
        try FileManager.default.removeItem(atPath: "\(state)/registry")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: "\(state)/registry"))
        guard case .failure(.storeUnavailable(let message)) = await store.healthCheck() else {
            Issue.record("health check passed with the registry directory replaced by a file")
            return
        }
        #expect(message.contains(store.directory))
    }

    @Test func acquireWaitsUntilTheDeadlineThenNamesTheHolder() async throws {
        let holder = try store("holder")
        let waiter = try store("waiter")
        let lease = try await holder.acquire(lock: "slow", holder: "h", ttl: .seconds(30), wait: .zero)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await waiter.acquire(lock: "slow", holder: "w", ttl: .seconds(5), wait: .milliseconds(800))
            Issue.record("acquired a held lock")
        } catch CoordinationError.lockHeld(let name, let holderName, let expiresAt) {
            #expect(name == "slow" && holderName == "h" && abs(expiresAt.timeIntervalSince(lease.expiresAt)) < 0.001)
        }
        let elapsed = clock.now - start
        #expect(elapsed >= .milliseconds(750) && elapsed < .seconds(15), "waited \(elapsed)")
        try await holder.release(lock: "slow", leaseID: lease.leaseID)
    }
}

extension FileStore {
    /// The health check as a throwing call, for `#expect(throws:)`.
    func healthCheckResult() async throws {
        try await healthCheck().get()
    }
}


/// Key records for file-store tests (whole-second dates, real public key).
enum SampleRecord {
    static func make(trustDomain: String, kid: String) throws -> KeyRecord {
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        return KeyRecord(trustDomain: trustDomain, kid: kid, keyType: .ecP256, publicKey: Array(repeating: 7, count: 91),
                         backend: "external", backendRef: nil, createdAt: now, publishedAt: now,
                         notAfter: now.addingTimeInterval(86_400), state: .published, createdBy: "test")
    }
}
