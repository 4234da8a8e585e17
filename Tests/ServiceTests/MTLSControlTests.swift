import Foundation
import Service
import TestSupport
import XCTest

/// The control API over mutual TLS with SPIFFE client certificates (made by PyCA
/// cryptography, presented by Python's ssl): allowlist, admin list, bearer fallback, and a
/// certificate from another CA refused at the handshake. The public listener serves TLS too.
final class MTLSControlTests: XCTestCase {
    static let memberID = "spiffe://example.org/spire/server/node-a"
    static let adminID = "spiffe://example.org/ops/admin"
    static let unlistedID = "spiffe://example.org/workload/web"
    static let deeperID = "spiffe://example.org/spire/server/node-a/extra"

    var pki: TLSTestPKI!
    var harness: ServiceHarness!

    override func setUp() async throws {
        pki = try TLSTestPKI(serverSerials: [2001], clients: [
            "member": Self.memberID, "admin": Self.adminID, "unlisted": Self.unlistedID, "deeper": Self.deeperID,
            "two-ids": "\(Self.memberID) \(Self.adminID)",
        ])
        let pki = self.pki!
        harness = try await ServiceHarness.start { config in
            config.publicTLSCert = pki.serverCertificate(2001)
            config.publicTLSKey = pki.serverKey(2001)
            config.controlTLSCert = pki.serverCertificate(2001)
            config.controlTLSKey = pki.serverKey(2001)
            config.controlClientCA = pki.caFile
            config.controlAllowSPIFFEIDs = ["spiffe://example.org/spire/server/*"]
            config.adminSPIFFEIDs = [Self.adminID]
        }
    }

    override func tearDown() async throws {
        await harness.stop()
        pki.remove()
    }

    /// One control request over TLS, as `client` (a certificate name) and/or with `bearer`.
    private func call(_ method: String, _ path: String, client: String?, bearer: String? = nil,
                      body: String = "") async throws -> [String: Any] {
        var request: [String: any Sendable] = ["mode": "get", "host": "127.0.0.1", "port": harness.controlPort,
                                               "cafile": pki.caFile, "path": path, "method": method, "body": body]
        if let client {
            request["cert"] = pki.clientCertificate(client)
            request["key"] = pki.clientKey(client)
        }
        var headers = ["Content-Type": "application/json"]
        if let bearer { headers["Authorization"] = "Bearer \(bearer)" }
        request["headers"] = headers
        return try await TLSTestPKI.client(request)
    }

    private func problemType(_ reply: [String: Any]) -> String? {
        guard let body = reply["body"] as? String,
              let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return nil }
        return object["type"] as? String
    }

    private func ensure(as client: String?, bearer: String? = nil) async throws -> [String: Any] {
        try await call("POST", "/v1/jwt-keys/ec-p256/ensure", client: client, bearer: bearer, body: #"{"server_id":"spire-1"}"#)
    }

    func testAllowedSPIFFEIDEnsures() async throws {
        let reply = try await ensure(as: "member")
        XCTAssertEqual(reply["status"] as? Int, 200, "\(reply)")
        XCTAssertEqual(reply["version"] as? String, "TLSv1.3")
    }

    func testUnlistedSPIFFEIDIsForbiddenEvenWithAToken() async throws {
        for client in ["unlisted", "deeper"] {
            let reply = try await ensure(as: client, bearer: harness.token)
            XCTAssertEqual(reply["status"] as? Int, 403, "\(client): \(reply)")
            XCTAssertEqual(problemType(reply), "https://keycoord.dev/problems/forbidden")
            XCTAssertTrue((reply["body"] as? String ?? "").contains(client == "unlisted" ? Self.unlistedID : Self.deeperID))
        }
    }

    func testACertificateWithTwoSPIFFEIDsIsForbidden() async throws {
        let reply = try await ensure(as: "two-ids", bearer: harness.token)
        XCTAssertEqual(reply["status"] as? Int, 403, "\(reply)")
        XCTAssertTrue((reply["body"] as? String ?? "").contains("exactly one"), "\(reply)")
    }

    func testAdminSPIFFEIDMayTaintButMemberMayNot() async throws {
        let ensured = try await ensure(as: "member")
        let body = try XCTUnwrap((ensured["body"] as? String)?.data(using: .utf8))
        let kid = try XCTUnwrap((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["kid"] as? String)

        let denied = try await call("POST", "/v1/keys/\(kid)/taint", client: "member")
        XCTAssertEqual(denied["status"] as? Int, 403, "\(denied)")
        XCTAssertEqual(problemType(denied), "https://keycoord.dev/problems/forbidden")

        let tainted = try await call("POST", "/v1/keys/\(kid)/taint", client: "admin")
        XCTAssertEqual(tainted["status"] as? Int, 200, "\(tainted)")
    }

    func testWithoutAClientCertificateTheBearerTokenDecides() async throws {
        let withToken = try await ensure(as: nil, bearer: harness.token)
        XCTAssertEqual(withToken["status"] as? Int, 200, "\(withToken)")
        let without = try await ensure(as: nil)
        XCTAssertEqual(without["status"] as? Int, 401, "\(without)")
    }

    func testACertificateFromAnotherCAIsRefusedAtTheHandshake() async throws {
        let reply = try await ensure(as: "stranger", bearer: harness.token)
        XCTAssertNil(reply["status"], "\(reply)")
        let error = reply["error"] as? String ?? ""
        XCTAssertTrue(error.contains("SSL") || error.contains("reset") || error.contains("closed"), error)
    }

    func testPublicListenerServesTheJWKSOverHTTPS() async throws {
        let reply = try await TLSTestPKI.client(["mode": "get", "host": "127.0.0.1", "port": harness.publicPort,
                                                 "cafile": pki.caFile, "path": "/.well-known/openid-configuration"])
        XCTAssertEqual(reply["status"] as? Int, 200, "\(reply)")
        XCTAssertTrue((reply["body"] as? String ?? "").contains("\"https://127.0.0.1:0"), "issuer defaults to https with TLS")
    }
}

/// Start-time rules of the TLS settings, and the unix control socket's file mode.
final class TLSConfigTests: XCTestCase {
    private func message(_ configure: (inout ServiceConfig) -> Void) -> String? {
        var config = ServiceConfig()
        configure(&config)
        do {
            try config.validate()
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testTLSSettingsAreCheckedTogether() {
        XCTAssertTrue(message { $0.publicTLSCert = "/c.pem" }?.contains("public-tls-key") == true)
        XCTAssertTrue(message { $0.controlTLSKey = "/k.pem" }?.contains("control-tls-cert") == true)
        XCTAssertTrue(message { $0.controlClientCA = "/ca.pem" }?.contains("control-tls-cert") == true)
        XCTAssertTrue(message { $0.adminSPIFFEIDs = ["spiffe://example.org/a"] }?.contains("control-client-ca") == true)
        let tls: (inout ServiceConfig) -> Void = {
            $0.controlTLSCert = "/c.pem"; $0.controlTLSKey = "/k.pem"; $0.controlClientCA = "/ca.pem"
        }
        XCTAssertTrue(message { tls(&$0) }?.contains("control-allow-spiffe-id") == true, "mTLS with nobody allowed")
        for bad in ["https://example.org/a", "spiffe://*/a", "spiffe://example.org/a*", "spiffe://example.org//a"] {
            XCTAssertTrue(message { tls(&$0); $0.controlAllowSPIFFEIDs = [bad] }?.contains("not a SPIFFE ID pattern") == true, bad)
        }
    }

    func testMutualTLSSatisfiesTheNonLoopbackRule() {
        XCTAssertNotNil(message { $0.controlListen = "0.0.0.0:8081" })
        XCTAssertNil(message {
            $0.controlListen = "0.0.0.0:8081"
            $0.controlTLSCert = "/c.pem"; $0.controlTLSKey = "/k.pem"; $0.controlClientCA = "/ca.pem"
            $0.controlAllowSPIFFEIDs = ["spiffe://example.org/spire/server/*"]
        })
    }

    func testTheSettingsTableParsesTheNewSettings() throws {
        let config = try ConfigLoader.load(file: nil, environment: [
            "KEYCOORD_CONTROL_ALLOW_SPIFFE_ID": "spiffe://a.org/x/*,spiffe://a.org/y",
        ], flags: ["control-socket-mode": ["0600"], "admin-spiffe-id": ["spiffe://a.org/ops", "spiffe://a.org/ops2"],
                   "control-tls-cert": ["/c.pem"], "control-tls-key": ["/k.pem"], "control-client-ca": ["/ca.pem"]])
        XCTAssertEqual(config.controlClientCA, "/ca.pem")
        XCTAssertEqual(config.controlAllowSPIFFEIDs, ["spiffe://a.org/x/*", "spiffe://a.org/y"])
        XCTAssertEqual(config.adminSPIFFEIDs, ["spiffe://a.org/ops", "spiffe://a.org/ops2"])
        XCTAssertEqual(config.controlSocketMode, 0o600)
        XCTAssertThrowsError(try ConfigLoader.load(file: nil, environment: [:], flags: ["control-socket-mode": ["rw"]]))
    }

    func testUnixControlSocketGetsItsMode() async throws {
        let socketDirectory = try TemporaryDirectory("kc-sock")
        defer { socketDirectory.remove() }
        let path = socketDirectory.file("control.sock")
        let harness = try await ServiceHarness.start { $0.controlListen = "unix:\(path)" }
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660)
        await harness.stop()
    }
}
