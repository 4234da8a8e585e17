import Core
import Crypto
import Foundation
import TestSupport
import XCTest

/// Every malformed control request gets its 4xx and problem type, and changes nothing.
final class BadInputTests: XCTestCase {
    var harness: ServiceHarness!

    override func setUp() async throws {
        harness = try await ServiceHarness.start { $0.maxBodyBytes = 4096 }
        _ = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
    }

    override func tearDown() async throws {
        await harness.stop()
    }

    struct Case {
        let name: String
        let method: String
        let path: String
        let body: [UInt8]?
        var token: String? = "<valid>"
        let status: Int
        let type: String
        var contentType: String? = "application/json"
    }

    func testMalformedRequestsAreRefusedAndChangeNothing() throws {
        let validPEM = try PrivateKey.generate(.ecP256).publicKey.pem
        let p521 = try PrivateKey.generate(.ecP521).publicKey.pem
        func json(_ object: Any) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }
        let notAfter = WireTimeForTests.format(Date().addingTimeInterval(3600))
        let cases: [Case] = [
            Case(name: "no token", method: "POST", path: "/v1/keys", body: json(["public_key": validPEM]), token: nil, status: 401, type: "unauthenticated"),
            Case(name: "wrong token", method: "GET", path: "/v1/keys", body: nil, token: "wrong-token-0123456789abcdef", status: 401, type: "unauthenticated"),
            Case(name: "malformed JSON", method: "POST", path: "/v1/keys", body: Array("{\"public_key\": ".utf8), status: 400, type: "malformed-json"),
            Case(name: "JSON array", method: "POST", path: "/v1/keys", body: Array("[1,2]".utf8), status: 400, type: "malformed-json"),
            Case(name: "invalid UTF-8", method: "POST", path: "/v1/keys", body: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], status: 400, type: "malformed-json"),
            Case(name: "deep nesting", method: "POST", path: "/v1/keys", body: Array((String(repeating: "[", count: 1500) + String(repeating: "]", count: 1500)).utf8), status: 400, type: "malformed-json"),
            Case(name: "wrong type", method: "POST", path: "/v1/keys", body: json(["public_key": 42, "not_after": notAfter, "server_id": "s"]), status: 400, type: "invalid-request"),
            Case(name: "unknown member", method: "POST", path: "/v1/keys", body: json(["public_key": validPEM, "not_after": notAfter, "server_id": "s", "admin": true]), status: 400, type: "invalid-request"),
            Case(name: "bad PEM", method: "POST", path: "/v1/keys", body: json(["public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not_after": notAfter, "server_id": "s"]), status: 422, type: "invalid-key"),
            Case(name: "unsupported curve", method: "POST", path: "/v1/keys", body: json(["public_key": p521, "not_after": notAfter, "server_id": "s"]), status: 422, type: "invalid-key"),
            Case(name: "JWK with private part", method: "POST", path: "/v1/keys", body: json(["public_key": ["kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"], "not_after": notAfter, "server_id": "s"]), status: 422, type: "invalid-key"),
            Case(name: "bad time", method: "POST", path: "/v1/keys", body: json(["public_key": validPEM, "not_after": "tomorrow", "server_id": "s"]), status: 400, type: "invalid-request"),
            Case(name: "server id with spaces", method: "POST", path: "/v1/keys", body: json(["public_key": validPEM, "not_after": notAfter, "server_id": "a b"]), status: 400, type: "invalid-request"),
            Case(name: "unknown key type", method: "POST", path: "/v1/jwt-keys/ec-p521/ensure", body: json(["server_id": "s"]), status: 404, type: "unknown-key-type"),
            Case(name: "ensure without server id", method: "POST", path: "/v1/jwt-keys/ec-p256/ensure", body: json([:]), status: 400, type: "invalid-request"),
            Case(name: "unknown kid", method: "POST", path: "/v1/keys/00112233445566778899aabbccddeeff00112233/taint", body: nil, status: 404, type: "key-not-found"),
            Case(name: "odd bytes in kid", method: "DELETE", path: "/v1/keys/..%2F..%2Fetc%2Fpasswd", body: nil, status: 400, type: "invalid-request"),
            Case(name: "bad lock name", method: "POST", path: "/v1/locks/a%20b", body: json(["holder": "h", "ttl_seconds": 5]), status: 400, type: "invalid-request"),
            Case(name: "lock name too long", method: "GET", path: "/v1/locks/" + String(repeating: "a", count: 201), body: nil, status: 400, type: "invalid-request"),
            Case(name: "ttl is a boolean", method: "POST", path: "/v1/locks/x", body: json(["holder": "h", "ttl_seconds": true]), status: 400, type: "invalid-request"),
            Case(name: "ttl is fractional", method: "POST", path: "/v1/locks/x", body: json(["holder": "h", "ttl_seconds": 1.5]), status: 400, type: "invalid-request"),
            Case(name: "ttl out of range", method: "POST", path: "/v1/locks/x", body: json(["holder": "h", "ttl_seconds": 0]), status: 400, type: "invalid-request"),
            Case(name: "release without lease id", method: "DELETE", path: "/v1/locks/x", body: nil, status: 400, type: "invalid-request"),
            Case(name: "member given twice", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":5,"holder":"other"}"#.utf8), status: 400, type: "malformed-json"),
            Case(name: "data after the object", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":5} {}"#.utf8), status: 400, type: "malformed-json"),
            Case(name: "lone surrogate escape", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"\ud800","ttl_seconds":5}"#.utf8), status: 400, type: "malformed-json"),
            Case(name: "raw control character", method: "POST", path: "/v1/locks/x", body: Array("{\"holder\":\"a\u{01}b\",\"ttl_seconds\":5}".utf8), status: 400, type: "malformed-json"),
            Case(name: "number out of range", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":1e400}"#.utf8), status: 400, type: "malformed-json"),
            Case(name: "leading zero", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":05}"#.utf8), status: 400, type: "malformed-json"),
            Case(name: "trailing comma", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":5,}"#.utf8), status: 400, type: "malformed-json"),
            Case(name: "ttl is a string", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":"5"}"#.utf8), status: 400, type: "invalid-request"),
            Case(name: "fencing with an unknown member", method: "POST", path: "/v1/keys", body: json(["public_key": validPEM, "not_after": notAfter, "server_id": "s", "fencing": ["lock": "l", "token": 1, "x": 1]]), status: 400, type: "invalid-request"),
            Case(name: "unknown lease", method: "POST", path: "/v1/locks/x/renew", body: json(["lease_id": "nope", "ttl_seconds": 5]), status: 409, type: "lease-not-held"),
            Case(name: "oversized body", method: "POST", path: "/v1/keys", body: Array(repeating: 0x20, count: 5000), status: 413, type: "body-too-large"),
            Case(name: "unknown path", method: "GET", path: "/v1/nothing", body: nil, status: 404, type: "not-found"),
            Case(name: "wrong method", method: "PUT", path: "/v1/keys", body: json([:]), status: 405, type: "method-not-allowed"),
            Case(name: "wait is null", method: "POST", path: "/v1/locks/x", body: Array(#"{"holder":"h","ttl_seconds":5,"wait_seconds":null}"#.utf8), status: 400, type: "invalid-request"),
            Case(name: "fencing is null", method: "POST", path: "/v1/keys", body: Array(#"{"public_key":"x","not_after":"\#(notAfter)","server_id":"s","fencing":null}"#.utf8), status: 400, type: "invalid-request"),
            Case(name: "reason is an object", method: "POST", path: "/v1/keys/00112233445566778899aabbccddeeff00112233/taint", body: json(["reason": [String: Any]()]), status: 400, type: "invalid-request"),
            Case(name: "reason is a number", method: "POST", path: "/v1/keys/00112233445566778899aabbccddeeff00112233/taint", body: json(["reason": 12345]), status: 400, type: "invalid-request"),
            Case(name: "reason is null", method: "POST", path: "/v1/keys/00112233445566778899aabbccddeeff00112233/taint", body: Array(#"{"reason":null}"#.utf8), status: 400, type: "invalid-request"),
            Case(name: "reason is an array", method: "POST", path: "/v1/keys/00112233445566778899aabbccddeeff00112233/taint", body: Array(#"{"reason":["a"]}"#.utf8), status: 400, type: "invalid-request"),
            Case(name: "reason too long", method: "POST", path: "/v1/keys/00112233445566778899aabbccddeeff00112233/taint", body: json(["reason": String(repeating: "r", count: 1025)]), status: 400, type: "invalid-request"),
            Case(name: "JSON sent as text/plain", method: "POST", path: "/v1/locks/x", body: json(["holder": "h", "ttl_seconds": 5]), status: 415, type: "unsupported-media-type", contentType: "text/plain"),
            Case(name: "JSON sent as a form", method: "POST", path: "/v1/jwt-keys/ec-p256/ensure", body: json(["server_id": "s"]), status: 415, type: "unsupported-media-type", contentType: "application/x-www-form-urlencoded"),
            Case(name: "a body with no Content-Type", method: "POST", path: "/v1/keys", body: json(["public_key": validPEM, "not_after": notAfter, "server_id": "s"]), status: 415, type: "unsupported-media-type", contentType: nil),
        ]
        let before = try harness.sequence()
        let kidsBefore = try harness.jwksKids()
        for item in cases {
            let client = try harness.controlClient()
            var headers: [(String, String)] = item.contentType.map { [("Content-Type", $0)] } ?? []
            if let token = item.token { headers.append(("Authorization", "Bearer \(token == "<valid>" ? harness.token : token)")) }
            let response = try client.request(item.method, item.path, headers: headers, body: item.body)
            XCTAssertEqual(response.status, item.status, "\(item.name): \(response.text)")
            XCTAssertEqual(response.header("Content-Type"), "application/problem+json", item.name)
            XCTAssertEqual(response.json["type"] as? String, "https://keycoord.dev/problems/\(item.type)", "\(item.name): \(response.text)")
            XCTAssertEqual(response.json["status"] as? Int, item.status, item.name)
            XCTAssertFalse((response.json["detail"] as? String ?? "").isEmpty, "\(item.name) explains itself")
        }
        XCTAssertEqual(try harness.sequence(), before, "no bad request may change the registry")
        XCTAssertEqual(try harness.jwksKids(), kidsBefore)
    }

    /// What the strict reader accepts: escapes (a surrogate pair too), whole numbers written
    /// with a fraction or exponent, blanks around the value, and a JWK object whose members
    /// (arrays and booleans included) go back out to the key parser intact.
    func testWellFormedVariantsAreAccepted() throws {
        let client = try harness.controlClient()
        func post(_ path: String, _ body: String) throws -> RawHTTPClient.Response {
            try client.request("POST", path, headers: [("Content-Type", "application/json")], body: Array(body.utf8), bearer: harness.token)
        }
        let escaped = try post("/v1/locks/escapes", #" {"holder" : "h\u0041\u002d1", "ttl_seconds": 3.0e1 }"# + "\n")
        let charset = try client.request("POST", "/v1/locks/charset", headers: [("Content-Type", "Application/JSON; charset=utf-8")],
                                         body: Array(#"{"holder":"h","ttl_seconds":5}"#.utf8), bearer: harness.token)
        XCTAssertEqual(charset.status, 200, "media types compare case-insensitively, parameters aside: \(charset.text)")
        XCTAssertEqual(escaped.status, 200, escaped.text)
        XCTAssertEqual(escaped.json["holder"] as? String, "hA-1")
        let pair = try post("/v1/locks/pair", #"{"holder":"h\ud83d\ude00","ttl_seconds":5}"#)
        XCTAssertEqual(pair.status, 400, "the pair decodes (to an emoji) and the holder rule refuses it: \(pair.text)")
        XCTAssertTrue((pair.json["detail"] as? String ?? "").contains("holder"), pair.text)
        let key = try PrivateKey.generate(.ecP256).publicKey
        let jwk = String(JWK(publicKey: key, kid: nil, alg: nil).json.dropLast())  // reopen the object
        let notAfter = WireTimeForTests.format(Date().addingTimeInterval(3600))
        let published = try post("/v1/keys", #"{"public_key":\#(jwk),"key_ops":["verify"],"ext":true},"not_after":"\#(notAfter)","server_id":"s"}"#)
        XCTAssertEqual(published.status, 200, published.text)
    }
}
