import Foundation
import Service
import TestSupport
import XCTest

/// A disk key whose private file disappeared is replaced like a tainted key, found by
/// ensure and by the rotation tick; a second registry cannot take over a keys directory.
final class LostKeyTests: XCTestCase {
    func testEnsureReplacesAKeyWhoseFileWasDeleted() async throws {
        let harness = try await ServiceHarness.start()
        addTeardownBlock { await harness.stop() }
        let first = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        XCTAssertEqual(first.status, 200, first.text)
        let kid = try XCTUnwrap(first.json["kid"] as? String)
        try FileManager.default.removeItem(atPath: try XCTUnwrap(first.json["backend_ref"] as? String))

        let second = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        XCTAssertEqual(second.status, 200, second.text)
        let replacement = try XCTUnwrap(second.json["kid"] as? String)
        XCTAssertNotEqual(replacement, kid)
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(second.json["backend_ref"] as? String)))
        let shown = try harness.control("GET", "/v1/keys/\(kid)").json
        XCTAssertEqual(shown["tainted"] as? Bool, true)
        XCTAssertTrue((shown["taint_reason"] as? String)?.hasPrefix("lost by the backend") == true, "\(shown)")
        XCTAssertTrue(try harness.jwksKids().contains(replacement))
        let metrics = try harness.publicClient().request("GET", "/metrics").text
        XCTAssertTrue(metrics.contains("keycoord_keys_lost_total{key_type=\"ec-p256\"} 1"), metrics)
        XCTAssertEqual(try harness.publicClient().request("GET", "/readyz").status, 200)
    }

    func testTheRotationTickReplacesALostKeyWithoutAnyEnsure() async throws {
        // A one-minute key lifetime runs the rotation loop about every second.
        let harness = try await ServiceHarness.start {
            $0.keyTTL = .seconds(60)
            $0.publishLead = .seconds(10)
            $0.grace = .seconds(10)
        }
        addTeardownBlock { await harness.stop() }
        let first = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let kid = try XCTUnwrap(first.json["kid"] as? String)
        try FileManager.default.removeItem(atPath: try XCTUnwrap(first.json["backend_ref"] as? String))
        let deadline = Date().addingTimeInterval(10)
        var replaced = false
        while !replaced, Date() < deadline {
            let keys = try XCTUnwrap(try harness.control("GET", "/v1/keys").json["keys"] as? [[String: Any]])
            let lost = keys.first { $0["kid"] as? String == kid }
            let active = keys.first { $0["state"] as? String == "active" && $0["tainted"] as? Bool == false }
            replaced = lost?["tainted"] as? Bool == true && active != nil
            if !replaced { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertTrue(replaced, "the tick did not replace the lost key within 10 s")
        let ready = try harness.publicClient().request("GET", "/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)
    }

    func testASecondRegistryCannotTakeOverASharedKeysDirectory() async throws {
        let shared = try TemporaryDirectory("keycoord-shared-keys")
        defer { shared.remove() }
        let first = try await ServiceHarness.start { $0.keysDir = shared.path }
        addTeardownBlock { await first.stop() }
        XCTAssertEqual(try first.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"]).status, 200)
        do {
            let second = try await ServiceHarness.start { $0.keysDir = shared.path }
            await second.stop()
            XCTFail("a second registry started on another registry's keys directory")
        } catch {
            XCTAssertTrue("\(error)".contains("belongs to another registry"), "\(error)")
        }
        // The first deployment's key is untouched.
        XCTAssertEqual(try first.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"]).status, 200)
    }
}
