import Core
import Crypto
import Foundation
import Testing

/// SPIRE's dedup rules and publish-upsert.
@Suite struct RegistryTests {
    let base = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func mergeKeepsLargestNotAfterStickyTaintAndNeverMovesBack() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let first = try Fixtures.record(key, state: .active, notAfter: base)
        var second = try Fixtures.record(key, state: .published, notAfter: base.addingTimeInterval(60), tainted: true)
        second.createdBy = "other"
        let merged = Registry.merge(first, second)
        #expect(merged.notAfter == base.addingTimeInterval(60))
        #expect(merged.tainted)
        #expect(merged.state == .active)
        #expect(merged.createdBy == "test")
        // A later untainted duplicate does not clear the taint; revoked stays revoked.
        var revoked = first
        revoked.state = .revoked
        let again = Registry.merge(Registry.merge(merged, first), revoked)
        #expect(again.tainted && again.state == .revoked)
        #expect(Registry.merge(revoked, second).state == .revoked)
    }

    @Test func mergeKeepsTheFirstTaintReason() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let clean = try Fixtures.record(key, notAfter: base)
        var first = try Fixtures.record(key, notAfter: base, tainted: true)
        first.taintReason = "first"
        var second = first
        second.taintReason = "second"
        #expect(Registry.merge(first, second).taintReason == "first")
        #expect(Registry.merge(clean, second).taintReason == "second", "an untainted twin adopts the taint and its reason")
        #expect(Registry.merge(second, clean).taintReason == "second")
        var stray = clean
        stray.taintReason = "not tainted"
        #expect(Registry.merge(stray, clean).taintReason == nil, "an untainted record carries no reason")
    }

    @Test func mergePrefersTheBackendHeldTwin() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let external = try Fixtures.record(key, notAfter: base)
        let held = try Fixtures.record(key, notAfter: base, backend: "disk", ref: "/keys/a.pem")
        let merged = Registry.merge(external, held)
        #expect(merged.backend == "disk" && merged.backendRef == "/keys/a.pem")
    }

    @Test func deduplicationKeepsFirstSeenOrder() throws {
        let keys = try (0..<3).map { _ in try PrivateKey.generate(.ecP256).publicKey }
        let a = try Fixtures.record(keys[0], notAfter: base)
        let b = try Fixtures.record(keys[1], notAfter: base)
        let c = try Fixtures.record(keys[2], notAfter: base)
        let aLater = try Fixtures.record(keys[0], notAfter: base.addingTimeInterval(3600), tainted: true)
        let out = Registry.deduplicated([b, a, c, aLater, b])
        #expect(out.map(\.kid) == [b.kid, a.kid, c.kid])
        #expect(out[1].notAfter == base.addingTimeInterval(3600) && out[1].tainted)
    }

    @Test func upsertAppendsOrMerges() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let other = try PrivateKey.generate(.ecP256).publicKey
        var records = [try Fixtures.record(other, notAfter: base)]
        let stored = Registry.upsert(try Fixtures.record(key, notAfter: base), into: &records)
        #expect(records.count == 2 && stored.kid == records[1].kid)
        let merged = Registry.upsert(try Fixtures.record(key, notAfter: base.addingTimeInterval(5)), into: &records)
        #expect(records.count == 2 && merged.notAfter == base.addingTimeInterval(5))
        let shorter = Registry.upsert(try Fixtures.record(key, notAfter: base.addingTimeInterval(-5)), into: &records)
        #expect(shorter.notAfter == base.addingTimeInterval(5))
    }

    @Test func expiryIncludesGrace() throws {
        let record = try Fixtures.record(try PrivateKey.generate(.ecP256).publicKey, notAfter: base)
        #expect(!Registry.isExpired(record, now: base.addingTimeInterval(299), grace: .seconds(300)))
        #expect(Registry.isExpired(record, now: base.addingTimeInterval(300), grace: .seconds(300)))
    }
}
