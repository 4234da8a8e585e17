import Foundation
import Service
import TestSupport
import XCTest

/// Member and admin tokens, token rotation by editing the file, and the refusal to expose
/// the generated token beyond loopback.
final class AuthTests: XCTestCase {
    let member = "member-token-0123456789abcdef"
    let admin = "admin-token-0123456789abcdef"
    var harness: ServiceHarness!
    var memberFile = ""

    override func setUp() async throws {
        let (member, admin) = (self.member, self.admin)
        var memberPath = ""
        harness = try await ServiceHarness.start { config in
            memberPath = config.stateDir + "/members"
            try? "\(member)\n".write(toFile: memberPath, atomically: true, encoding: .utf8)
            try? "# admins\n\(admin)\n".write(toFile: config.stateDir + "/admins", atomically: true, encoding: .utf8)
            config.controlTokenFile = memberPath
            config.adminTokenFile = config.stateDir + "/admins"
        }
        memberFile = memberPath
    }

    override func tearDown() async throws { await harness.stop() }

    private func call(_ method: String, _ path: String, _ token: String, _ body: Any = [String: Any]()) throws -> RawHTTPClient.Response {
        try harness.controlClient().json(method, path, body, bearer: token)
    }

    func testMembersEnsureButOnlyAdminsTaintAndRevoke() throws {
        let ensured = try call("POST", "/v1/jwt-keys/ec-p256/ensure", member, ["server_id": "spire-1"])
        XCTAssertEqual(ensured.status, 200, ensured.text)
        let kid = try XCTUnwrap(ensured.json["kid"] as? String)

        for (method, path) in [("POST", "/v1/keys/\(kid)/taint"), ("DELETE", "/v1/keys/\(kid)")] {
            let denied = try call(method, path, member)
            XCTAssertEqual(denied.status, 403, denied.text)
            XCTAssertEqual(denied.json["type"] as? String, "https://keycoord.dev/problems/forbidden")
        }
        XCTAssertEqual(try call("GET", "/v1/keys/\(kid)", member).json["tainted"] as? Bool, false, "a denied taint changes nothing")

        XCTAssertEqual(try call("POST", "/v1/keys/\(kid)/taint", admin).status, 200)
        XCTAssertEqual(try call("DELETE", "/v1/keys/\(kid)", admin).status, 200)
    }

    func testTheAuthorizationHeaderIsReadByTheBearerRules() throws {
        func status(_ authorization: String) throws -> (Int, String) {
            let response = try harness.controlClient().request("GET", "/v1/keys", headers: [("Authorization", authorization)])
            return (response.status, response.text)
        }
        // The scheme is case-insensitive (RFC 9110) and blanks around the token are ignored.
        for accepted in ["Bearer \(member)", "bearer \(member)", "BEARER   \(member)", "Bearer \(member) \t"] {
            XCTAssertEqual(try status(accepted).0, 200, accepted)
        }
        for (refused, reason) in [("Basic \(member)", "Bearer scheme"), ("Bearer", "Bearer scheme"),
                                  ("Bearerx \(member)", "Bearer scheme"),
                                  ("Bearer \(member)x", "not valid"), ("Bearer x\(member)", "not valid")] {
            let (code, text) = try status(refused)
            XCTAssertEqual(code, 401, refused)
            XCTAssertTrue(text.contains(reason), "\(refused): \(text)")
        }
    }

    func testTokensRotateByEditingTheFile() throws {
        let next = "rotated-token-0123456789abcdef"
        XCTAssertEqual(try call("GET", "/v1/keys", next).status, 401)
        try "\(member)\n\(next)\n".write(toFile: memberFile, atomically: true, encoding: .utf8)
        XCTAssertEqual(try call("GET", "/v1/keys", next).status, 200, "a token added to the file works without a restart")
        try "\(next)\n".write(toFile: memberFile, atomically: true, encoding: .utf8)
        XCTAssertEqual(try call("GET", "/v1/keys", member).status, 401, "a token removed from the file stops working")
    }

    func testARefusedRewriteFailsClosedAndIsReported() throws {
        try "\(member)x\nshort\n".write(toFile: memberFile, atomically: true, encoding: .utf8)
        let refused = try call("GET", "/v1/keys", member)
        XCTAssertEqual(refused.status, 401, "a token removed by a refused rewrite stops working: \(refused.text)")
        let ready = try harness.publicClient().request("GET", "/readyz")
        XCTAssertEqual(ready.status, 503, ready.text)
        let check = try XCTUnwrap((ready.json["checks"] as? [String: Any])?["tokens:control"] as? [String: Any], ready.text)
        XCTAssertEqual(check["ok"] as? Bool, false)
        XCTAssertFalse(ready.text.contains(memberFile), "the public listener does not show the file's path")
        let metrics = try harness.publicClient().request("GET", "/metrics").text
        XCTAssertTrue(metrics.contains("keycoord_token_file_refusals_total{file=\"\(memberFile)\"} 1"), metrics)

        try "\(member)\n".write(toFile: memberFile, atomically: true, encoding: .utf8)
        XCTAssertEqual(try call("GET", "/v1/keys", member).status, 200, "a valid file is taken again")
    }

    func testTheGeneratedTokenIsNotServedBeyondLoopback() {
        var config = ServiceConfig()
        config.controlListen = "0.0.0.0:8081"
        XCTAssertThrowsError(try config.validate()) { error in
            XCTAssertTrue("\(error)".contains("control-token-file"), "\(error)")
        }
        config.controlTokenFile = "/etc/keycoord/token"
        XCTAssertNoThrow(try config.validate())
        config.controlListen = "unix:/run/keycoord/control.sock"
        config.controlTokenFile = ""
        XCTAssertNoThrow(try config.validate(), "a unix socket's file mode is its access control")
    }
}
