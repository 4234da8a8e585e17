import Foundation
import TestSupport
import XCTest

/// `keycoord serve --backend aws-kms` against the test moto, with the production settings:
/// the mint's probe signs with MessageType DIGEST (which the test moto honours as KMS does)
/// and is verified before the key is published.
final class AWSEndToEndTests: XCTestCase {
    var directory: TemporaryDirectory!
    var processes: [ServeProcess] = []

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("keycoord-aws-e2e")
    }

    override func tearDown() {
        processes.forEach { $0.kill() }
        directory.remove()
    }

    func testTwoSidecarsMintOneKMSKeyThatSignsWithDigestAndIsServedInTheJWKS() throws {
        let moto = try XCTUnwrap(ProcessInfo.processInfo.environment["KEYCOORD_TEST_MOTO_URL"],
                                 "KEYCOORD_TEST_MOTO_URL is not set: run under ./scripts/with-test-services.sh")
        let trustDomain = "e2e-\(UUID().uuidString.prefix(8).lowercased()).example.org"
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
                           "AWS_PROFILE": "", "HOME": directory.path]
        for index in 0..<2 {
            processes.append(try ServeProcess.start(stateDir: directory.path, instance: "aws-sidecar-\(index)", extra: [
                "--backend", "aws-kms", "--aws-region", "us-east-1", "--aws-endpoint", moto, "--aws-deletion-window-days", "7",
                "--trust-domain", trustDomain, "--key-type", "ec-p256",
            ], environment: environment))
        }
        let token = try processes[0].token()
        var kids: Set<String> = []
        for index in 0..<6 {
            let answer = try RawHTTPClient(port: processes[index % 2].controlPort, timeout: 60)
                .json("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-\(index)"], bearer: token)
            XCTAssertEqual(answer.status, 200, answer.text)
            XCTAssertEqual(answer.json["backend"] as? String, "aws-kms")
            XCTAssertTrue((answer.json["backend_ref"] as? String ?? "").hasPrefix("arn:aws:kms:us-east-1:"), answer.text)
            if let kid = answer.json["kid"] as? String { kids.insert(kid) }
        }
        XCTAssertEqual(kids.count, 1, "both sidecars hand out the one KMS key")
        let jwks = try RawHTTPClient(port: processes[1].publicPort).request("GET", "/.well-known/jwks.json").json
        let served = (jwks["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
        XCTAssertEqual(Set(served), kids)
    }
}
