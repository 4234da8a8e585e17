import Crypto
import Foundation
import TestSupport
import XCTest

final class LockAPITests: XCTestCase {
    var harness: ServiceHarness!

    override func setUp() async throws { harness = try await ServiceHarness.start() }
    override func tearDown() async throws { await harness.stop() }

    func testAcquireConflictRenewReleaseAndStatus() throws {
        let first = try harness.control("POST", "/v1/locks/rotation.ec", ["holder": "spire-1", "ttl_seconds": 30])
        XCTAssertEqual(first.status, 200, first.text)
        let lease = try XCTUnwrap(first.json["lease_id"] as? String)
        let token = try XCTUnwrap(first.json["fencing_token"] as? Int)

        let second = try harness.control("POST", "/v1/locks/rotation.ec", ["holder": "spire-2", "ttl_seconds": 30])
        XCTAssertEqual(second.status, 409)
        XCTAssertEqual(second.json["type"] as? String, "https://keycoord.dev/problems/lock-held")
        XCTAssertEqual(second.json["holder"] as? String, "spire-1")
        XCTAssertNotNil(second.json["expires_at"] as? String)

        let status = try harness.control("GET", "/v1/locks/rotation.ec")
        XCTAssertEqual(status.json["held"] as? Bool, true)
        XCTAssertEqual(status.json["holder"] as? String, "spire-1")

        let renewed = try harness.control("POST", "/v1/locks/rotation.ec/renew", ["lease_id": lease, "ttl_seconds": 60])
        XCTAssertEqual(renewed.status, 200, renewed.text)
        XCTAssertEqual(renewed.json["fencing_token"] as? Int, token)

        XCTAssertEqual(try harness.control("DELETE", "/v1/locks/rotation.ec?lease_id=\(lease)").status, 204)
        XCTAssertEqual(try harness.control("DELETE", "/v1/locks/rotation.ec?lease_id=\(lease)").status, 409)

        let third = try harness.control("POST", "/v1/locks/rotation.ec", ["holder": "spire-2", "ttl_seconds": 30])
        XCTAssertEqual(third.status, 200, third.text)
        XCTAssertGreaterThan(try XCTUnwrap(third.json["fencing_token"] as? Int), token, "fencing tokens strictly increase")
    }

    func testTheRotationLocksAreReserved() throws {
        let name = "jwt:example.org:ec-p256"
        let acquire = try harness.control("POST", "/v1/locks/\(name)", ["holder": "spire-1", "ttl_seconds": 3600])
        XCTAssertEqual(acquire.status, 403, acquire.text)
        XCTAssertEqual(acquire.json["type"] as? String, "https://keycoord.dev/problems/reserved-lock")
        XCTAssertEqual(try harness.control("POST", "/v1/locks/\(name)/renew", ["lease_id": "x", "ttl_seconds": 5]).status, 403)
        XCTAssertEqual(try harness.control("DELETE", "/v1/locks/\(name)?lease_id=x").status, 403)
        let status = try harness.control("GET", "/v1/locks/\(name)")
        XCTAssertEqual(status.status, 200, status.text)
        XCTAssertEqual(status.json["held"] as? Bool, false)
        // Rotation still works: nothing outside keycoord held its lock.
        XCTAssertEqual(try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"]).status, 200)
    }

    func testWaitingAcquireSucceedsOnceTheLeaseExpires() throws {
        XCTAssertEqual(try harness.control("POST", "/v1/locks/short", ["holder": "a", "ttl_seconds": 1]).status, 200)
        let waited = try harness.control("POST", "/v1/locks/short", ["holder": "b", "ttl_seconds": 5, "wait_seconds": 10])
        XCTAssertEqual(waited.status, 200, "\(waited.status) \(waited.text)")
        XCTAssertEqual(waited.json["holder"] as? String, "b")
    }

    func testPublishWithAStaleFencingTokenWritesNothing() throws {
        let old = try harness.control("POST", "/v1/locks/publish", ["holder": "a", "ttl_seconds": 1])
        let oldToken = try XCTUnwrap(old.json["fencing_token"] as? Int)
        Thread.sleep(forTimeInterval: 1.5)
        let new = try harness.control("POST", "/v1/locks/publish", ["holder": "b", "ttl_seconds": 30])
        XCTAssertEqual(new.status, 200, new.text)
        let newToken = try XCTUnwrap(new.json["fencing_token"] as? Int)

        let before = try harness.sequence()
        let notAfter = WireTimeForTests.format(Date().addingTimeInterval(3600))
        let stale = try harness.control("POST", "/v1/keys", [
            "public_key": try PrivateKey.generate(.ecP256).publicKey.pem, "not_after": notAfter, "server_id": "a",
            "fencing": ["lock": "publish", "token": oldToken],
        ])
        XCTAssertEqual(stale.status, 409, stale.text)
        XCTAssertEqual(stale.json["type"] as? String, "https://keycoord.dev/problems/stale-fencing-token")
        XCTAssertEqual(try harness.sequence(), before)

        let fresh = try harness.control("POST", "/v1/keys", [
            "public_key": try PrivateKey.generate(.ecP256).publicKey.pem, "not_after": notAfter, "server_id": "b",
            "fencing": ["lock": "publish", "token": newToken],
        ])
        XCTAssertEqual(fresh.status, 200, fresh.text)
    }
}
