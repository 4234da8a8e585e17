import Crypto
import Foundation
import TestSupport
import XCTest

/// The service over real sockets, checked by an independent JOSE library.
final class EndToEndTests: XCTestCase {
    var harness: ServiceHarness!

    override func setUp() async throws {
        harness = try await ServiceHarness.start()
    }

    override func tearDown() async throws {
        await harness.stop()
    }

    private func verify(_ tokens: [String]) throws -> [[String: Any]] {
        let output = try PythonCheck.run("service_verify_jwt.py", input: ["jwks": try harness.jwks(), "tokens": tokens])
        return ((output as? [String: Any])?["results"] as? [[String: Any]]) ?? []
    }

    func testEnsureGivesADiskKeyWhoseJWTsVerifyAgainstTheServedJWKS() throws {
        let ensured = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        XCTAssertEqual(ensured.status, 200, ensured.text)
        let kid = try XCTUnwrap(ensured.json["kid"] as? String)
        XCTAssertEqual(ensured.json["alg"] as? String, "ES256")
        XCTAssertEqual(ensured.json["backend"] as? String, "disk")
        XCTAssertNotNil(ensured.json["refresh_after"] as? String)
        let path = try XCTUnwrap(ensured.json["backend_ref"] as? String)
        let key = try PrivateKey(pem: try String(contentsOfFile: path, encoding: .utf8))

        // The kid is SPIRE's: SHA-1 over the subjectPublicKey bits.
        XCTAssertEqual(kid, Hex.encode(Digest.sha1(key.publicKey.subjectPublicKeyBits)))
        XCTAssertEqual(try harness.jwksKids(), [kid])

        // A second server asking gets the same key.
        let again = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-2"])
        XCTAssertEqual(again.json["kid"] as? String, kid)

        let token = try TestJWT.sign(alg: "ES256", kid: kid, claims: TestJWT.claims(), key: key)
        let forged = try TestJWT.sign(alg: "ES256", kid: kid, claims: TestJWT.claims(), key: try PrivateKey.generate(.ecP256))
        let results = try verify([token, forged])
        XCTAssertEqual(results.first?["ok"] as? Bool, true, "\(results)")
        XCTAssertEqual(results.first?["kid"] as? String, kid)
        XCTAssertEqual(results.last?["ok"] as? Bool, false, "a token from another key must not verify")
    }

    func testEveryKeyTypeVerifies() throws {
        for (type, alg) in [("ec-p384", "ES384"), ("rsa-2048", "RS256")] {
            let ensured = try harness.control("POST", "/v1/jwt-keys/\(type)/ensure", ["server_id": "spire-1"])
            XCTAssertEqual(ensured.status, 200, ensured.text)
            let key = try PrivateKey(pem: try String(contentsOfFile: try XCTUnwrap(ensured.json["backend_ref"] as? String), encoding: .utf8))
            let token = try TestJWT.sign(alg: alg, kid: try XCTUnwrap(ensured.json["kid"] as? String), claims: TestJWT.claims(), key: key)
            XCTAssertEqual(try verify([token]).first?["ok"] as? Bool, true, type)
        }
    }

    func testPublishingOneKeyFromThreeServersGivesOneEntryWithTheLatestNotAfter() throws {
        let key = try PrivateKey.generate(.ecP256)
        let base = Date().addingTimeInterval(3600)
        var kids = Set<String>()
        for (index, server) in ["spire-a", "spire-b", "spire-c"].enumerated() {
            let notAfter = WireTimeForTests.format(base.addingTimeInterval(Double([600, 1800, 1200][index])))
            let response = try harness.control("POST", "/v1/keys", [
                "public_key": key.publicKey.pem, "not_after": notAfter, "server_id": server,
            ])
            XCTAssertEqual(response.status, 200, response.text)
            kids.insert(try XCTUnwrap(response.json["kid"] as? String))
        }
        XCTAssertEqual(kids.count, 1)
        let kid = kids.first!
        let shown = try harness.control("GET", "/v1/keys/\(kid)")
        XCTAssertEqual(shown.json["not_after"] as? String, WireTimeForTests.format(base.addingTimeInterval(1800)))
        XCTAssertEqual(try harness.jwksKids().filter { $0 == kid }.count, 1)
    }

    func testARevokedKeyCannotBePublishedAgainAndNotAfterIsBounded() throws {
        let key = try PrivateKey.generate(.ecP256)
        let farFuture = try harness.control("POST", "/v1/keys", [
            "public_key": key.publicKey.pem, "not_after": "9999-12-31T23:59:59Z", "server_id": "spire-a",
        ])
        XCTAssertEqual(farFuture.status, 422, farFuture.text)
        XCTAssertEqual(farFuture.json["type"] as? String, "https://keycoord.dev/problems/invalid-key")
        let notAfter = WireTimeForTests.format(Date().addingTimeInterval(3600))
        let published = try harness.control("POST", "/v1/keys", [
            "public_key": key.publicKey.pem, "not_after": notAfter, "server_id": "spire-a",
        ])
        XCTAssertEqual(published.status, 200, published.text)
        let kid = try XCTUnwrap(published.json["kid"] as? String)
        XCTAssertEqual(try harness.control("DELETE", "/v1/keys/\(kid)").status, 200)
        let again = try harness.control("POST", "/v1/keys", [
            "public_key": key.publicKey.pem, "not_after": notAfter, "server_id": "spire-b",
        ])
        XCTAssertEqual(again.status, 409, again.text)
        XCTAssertEqual(again.json["type"] as? String, "https://keycoord.dev/problems/key-revoked")
        XCTAssertEqual(again.json["kid"] as? String, kid)
        XCTAssertFalse(try harness.jwksKids().contains(kid))
    }

    /// The reason a taint gives is on the record as committed, in `GET /v1/keys/{kid}` and the
    /// key list, and in the audit line beside who tainted; a second taint keeps the first reason.
    func testTaintReasonIsKeptShownAndAudited() async throws {
        let log = CapturedLog()
        let harness = try await ServiceHarness.start(log: log)
        addTeardownBlock { await harness.stop() }
        let kid = try XCTUnwrap(try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"]).json["kid"] as? String)
        XCTAssertTrue(try harness.control("GET", "/v1/keys/\(kid)").json["taint_reason"] is NSNull, "untainted: null, not absent")

        let reason = "key material exposed: \"host-b\"\nticket OPS-7 ✓"
        let tainted = try harness.control("POST", "/v1/keys/\(kid)/taint", ["reason": reason])
        XCTAssertEqual(tainted.status, 200, tainted.text)
        XCTAssertEqual(tainted.json["taint_reason"] as? String, reason)
        XCTAssertEqual(try harness.control("GET", "/v1/keys/\(kid)").json["taint_reason"] as? String, reason)
        let listed = try XCTUnwrap(try harness.control("GET", "/v1/keys").json["keys"] as? [[String: Any]])
        XCTAssertEqual(listed.first { $0["kid"] as? String == kid }?["taint_reason"] as? String, reason)

        let again = try harness.control("POST", "/v1/keys/\(kid)/taint", ["reason": "second thoughts"])
        XCTAssertEqual(again.json["taint_reason"] as? String, reason, "the first reason stays")
        let withoutReason = try harness.control("POST", "/v1/keys/\(kid)/taint")
        XCTAssertEqual(withoutReason.status, 200, withoutReason.text)

        let audits = log.lines.filter { $0.metadata["log"] == "audit" && $0.metadata["action"] == "key.taint" }
        XCTAssertEqual(audits.count, 3, "\(log.lines.map(\.metadata))")
        XCTAssertEqual(audits.map { $0.metadata["reason"] }, [reason, "second thoughts", nil])
        XCTAssertEqual(Set(audits.compactMap { $0.metadata["caller"] }).count, 1)
        XCTAssertTrue(audits.allSatisfy { $0.metadata["caller"]?.isEmpty == false && $0.metadata["caller"] != "anonymous" })
        XCTAssertTrue(audits.allSatisfy { $0.metadata["target"] == kid && $0.metadata["status"] == "200" })
    }

    func testTaintKeepsTheKeyPublishedButHandsOutAnotherAndRevokeRemovesIt() throws {
        let first = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let kid = try XCTUnwrap(first.json["kid"] as? String)

        let tainted = try harness.control("POST", "/v1/keys/\(kid)/taint", ["reason": "key material exposed"])
        XCTAssertEqual(tainted.status, 200, tainted.text)
        XCTAssertEqual(tainted.json["tainted"] as? Bool, true)
        XCTAssertTrue(try harness.jwksKids().contains(kid), "a tainted key stays in the JWKS")

        let replacement = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        XCTAssertEqual(replacement.status, 200, replacement.text)
        let newKid = try XCTUnwrap(replacement.json["kid"] as? String)
        XCTAssertNotEqual(newKid, kid, "ensure must never hand out a tainted key")

        let revoked = try harness.control("DELETE", "/v1/keys/\(kid)")
        XCTAssertEqual(revoked.status, 200, revoked.text)
        XCTAssertEqual(revoked.json["state"] as? String, "revoked")
        let kids = try harness.jwksKids()
        XCTAssertFalse(kids.contains(kid), "a revoked key leaves the JWKS at once")
        XCTAssertTrue(kids.contains(newKid))
    }

    func testJWKSHeadersConditionalGetAndHead() throws {
        _ = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let client = try harness.publicClient()
        let full = try client.request("GET", "/keys")
        XCTAssertEqual(full.status, 200)
        XCTAssertEqual(full.header("Content-Type"), "application/json")
        let etag = try XCTUnwrap(full.header("ETag"))
        XCTAssertTrue(etag.hasPrefix("\"") && etag.hasSuffix("\""), "a strong ETag")
        let cacheControl = try XCTUnwrap(full.header("Cache-Control"))
        XCTAssertTrue(cacheControl.hasPrefix("public, max-age="))
        let maxAge = Int(cacheControl.split(separator: "=").last ?? "") ?? Int.max
        XCTAssertLessThanOrEqual(maxAge, 15 * 60 / 2, "never longer than half of publish_lead")
        XCTAssertNotNil(full.header("Date"))

        let notModified = try client.request("GET", "/.well-known/jwks.json", headers: [("If-None-Match", etag)])
        XCTAssertEqual(notModified.status, 304)
        XCTAssertEqual(notModified.header("ETag"), etag)
        XCTAssertTrue(notModified.body.isEmpty)

        let other = try client.request("GET", "/keys", headers: [("If-None-Match", "\"something-else\", W/\(etag)")])
        XCTAssertEqual(other.status, 304, "weak comparison applies to If-None-Match")
        let repeated = try client.request("GET", "/keys", headers: [("If-None-Match", "\"a\""), ("If-None-Match", etag)])
        XCTAssertEqual(repeated.status, 304, "repeated If-None-Match fields are one list")
        let stale = try client.request("GET", "/keys", headers: [("If-None-Match", "\"a\", \"b\"")])
        XCTAssertEqual(stale.status, 200, "no tag matches")

        let head = try client.request("HEAD", "/keys")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), String(full.body.count))
        XCTAssertEqual(head.header("ETag"), etag)
    }

    /// The public listener over HTTP/2 with prior knowledge (curl, libcurl on nghttp2): the
    /// JWKS bytes and cache headers are HTTP/1.1's, 304 and HEAD behave the same.
    func testJWKSOverHTTP2MatchesHTTP11() throws {
        _ = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let full = try harness.publicClient().request("GET", "/.well-known/jwks.json")
        let etag = try XCTUnwrap(full.header("ETag"))
        let url = "http://127.0.0.1:\(harness.publicPort)/.well-known/jwks.json"
        let h2 = try Self.curl(["--http2-prior-knowledge", "-D", "-", url])
        XCTAssertTrue(h2.hasPrefix("HTTP/2 200"), h2)
        XCTAssertTrue(h2.contains("etag: \(etag)"), h2)
        XCTAssertTrue(h2.contains("cache-control: \(full.header("Cache-Control") ?? "")"), h2)
        XCTAssertTrue(h2.hasSuffix("\r\n\r\n" + full.text), "the same JWKS bytes over both protocols")
        let notModified = try Self.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                         "-H", "If-None-Match: \(etag)", url])
        XCTAssertEqual(notModified, "304")
        let head = try Self.curl(["--http2-prior-knowledge", "-I", url])
        XCTAssertTrue(head.contains("content-length: \(full.body.count)"), head)
    }

    private static func curl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sS"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "curl \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }

    func testDiscoveryHealthReadinessAndMetrics() throws {
        _ = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let client = try harness.publicClient()
        let discovery = try client.request("GET", "/.well-known/openid-configuration")
        XCTAssertEqual(discovery.status, 200, discovery.text)
        let issuer = try XCTUnwrap(discovery.json["issuer"] as? String)
        XCTAssertEqual(discovery.json["jwks_uri"] as? String, issuer + "/keys")
        XCTAssertEqual(discovery.json["id_token_signing_alg_values_supported"] as? [String], ["ES256"])

        XCTAssertEqual(try client.request("GET", "/healthz").status, 200)
        let ready = try client.request("GET", "/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)

        let metrics = try client.request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.text.contains("keycoord_http_requests_total{listener=\"public\",route=\"/healthz\",method=\"GET\",status=\"200\"} 1"), metrics.text)
        XCTAssertTrue(metrics.text.contains("keycoord_keys{key_type=\"ec-p256\",state=\"active\"} 1"), metrics.text)
        XCTAssertTrue(metrics.text.contains("keycoord_jwks_keys{family=\"EC\"} 1"))
        XCTAssertTrue(metrics.text.contains("keycoord_http_request_duration_seconds_bucket"))
        XCTAssertTrue(metrics.text.contains("keycoord_ensure_total{key_type=\"ec-p256\""))
    }

    func testReadinessFailsWhenTheDiskKeyIsNotReadableHere() throws {
        let ensured = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        // The trust domain's folder gone as a whole (marker included): this instance does not
        // see the shared volume, which is not the same as a key deleted from it.
        let folder = URL(fileURLWithPath: try XCTUnwrap(ensured.json["backend_ref"] as? String)).deletingLastPathComponent().path
        try FileManager.default.moveItem(atPath: folder, toPath: folder + ".moved")
        defer { try? FileManager.default.moveItem(atPath: folder + ".moved", toPath: folder) }
        let ready = try harness.publicClient().request("GET", "/readyz")
        XCTAssertEqual(ready.status, 503, ready.text)
        XCTAssertTrue(ready.text.contains("not usable"), ready.text)
    }
}

/// RFC 3339 formatting as the wire uses it, kept apart from the service's own code.
enum WireTimeForTests {
    static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return formatter.string(from: date)
    }
}

/// The long poll that carries taints and rotations to every server within a second.
final class EventsTests: XCTestCase {
    func testALongPollWakesOnATaintMadeThroughAnotherRequest() async throws {
        let harness = try await ServiceHarness.start()
        defer { Task { await harness.stop() } }
        let ensured = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let kid = try XCTUnwrap(ensured.json["kid"] as? String)
        let sequence = try harness.sequence()

        let idle = try harness.control("GET", "/v1/events?after=\(sequence)&wait=1")
        XCTAssertEqual(idle.status, 200, idle.text)
        XCTAssertEqual(idle.json["changed"] as? Bool, false)

        let started = Date()
        let poll = Task.detached { try harness.control("GET", "/v1/events?after=\(sequence)&wait=30") }
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(try harness.control("POST", "/v1/keys/\(kid)/taint").status, 200)
        let woken = try await poll.value
        XCTAssertEqual(woken.json["changed"] as? Bool, true, woken.text)
        XCTAssertGreaterThan(woken.json["sequence"] as? Int ?? 0, sequence)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "woken by the change, not by the 30 s timeout")

        // A server that saw a sequence the registry no longer has (a lossy failover) hears of it at once.
        let ahead = try harness.control("GET", "/v1/events?after=\(sequence + 100)&wait=30")
        XCTAssertEqual(ahead.json["changed"] as? Bool, true, ahead.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "answered at once, not after the 30 s wait")

        XCTAssertEqual(try harness.control("GET", "/v1/events?wait=61").status, 400)
        XCTAssertEqual(try harness.control("GET", "/v1/events?after=-1").status, 400)
    }
}
