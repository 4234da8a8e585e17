import Crypto
import Foundation
import TestSupport
import XCTest

/// `keycoord serve --backend gcp-kms` processes against the Cloud KMS protocol fake
/// (Tests/python/fakes/gcp_kms_fake.py): one key for many sidecars, JWTs signed through
/// Cloud KMS that joserfc verifies against the served JWKS, throttling survived, and a
/// refused token answered as a clear problem.
final class GCPEndToEndTests: XCTestCase {
    var directory: TemporaryDirectory!
    var fake: CloudFakeServer!
    var processes: [ServeProcess] = []

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("keycoord-gcp-e2e")
        fake = try CloudFakeServer("gcp_kms_fake.py")
    }

    override func tearDown() {
        processes.forEach { $0.kill() }
        fake.stop()
        directory.remove()
    }

    private func sidecar(_ instance: String, keyType: String = "ec-p256") throws -> ServeProcess {
        let process = try ServeProcess.start(stateDir: directory.path, instance: instance, extra: [
            "--backend", "gcp-kms", "--gcp-project", "fake-project", "--gcp-location", "us-east1",
            "--gcp-key-ring", "spire", "--gcp-endpoint", fake.url,
            "--gcp-credentials-file", fake.stateDirectory + "/service-account.json", "--key-type", keyType,
        ])
        processes.append(process)
        return process
    }

    private func ensure(_ process: ServeProcess, _ keyType: String = "ec-p256") throws -> RawHTTPClient.Response {
        try RawHTTPClient(port: process.controlPort, timeout: 60)
            .json("POST", "/v1/jwt-keys/\(keyType)/ensure", ["server_id": "spire-1"], bearer: try process.token())
    }

    /// Every Cloud KMS call the fake has answered (its admin API aside), by operation.
    private func kmsRequests() async throws -> [String: Int] {
        let counts = try await fake.state()["requests"] as? [String: Any] ?? [:]
        return counts.compactMapValues { $0 as? Int }.filter { $0.key != "token" }
    }

    func testThreeSidecarsOnOneStoreMintOneKeyForFiftyConcurrentEnsuresAndTheFastPathCallsNoCloud() async throws {
        let sidecars = try (0..<3).map { try sidecar("gcp-sidecar-\($0)") }
        let token = try sidecars[0].token()
        let kids = LockedArray<String>()
        let failures = LockedArray<String>()
        DispatchQueue.concurrentPerform(iterations: 50) { index in
            do {
                let response = try RawHTTPClient(port: sidecars[index % 3].controlPort, timeout: 60)
                    .json("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-\(index)"], bearer: token)
                if response.status == 200, let kid = response.json["kid"] as? String { kids.append(kid) } else { failures.append(response.text) }
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures.values, [])
        XCTAssertEqual(kids.values.count, 50)
        XCTAssertEqual(Set(kids.values).count, 1, "every caller gets the same key")
        let requests = try await kmsRequests()
        XCTAssertEqual(requests["createCryptoKey"], 1, "exactly one Cloud KMS key minted: \(requests)")

        // The fast path: more ensures on every sidecar, no Cloud KMS call at all.
        for index in 0..<30 {
            let response = try ensure(sidecars[index % 3])
            XCTAssertEqual(response.status, 200, response.text)
        }
        let after = try await kmsRequests()
        XCTAssertEqual(after, requests, "ensure's fast path called Cloud KMS")
    }

    func testAJWTSignedThroughCloudKMSVerifiesWithJoserfcAgainstTheServedJWKS() async throws {
        let process = try sidecar("gcp-jwt")
        let answer = try ensure(process)
        XCTAssertEqual(answer.status, 200, answer.text)
        let kid = try XCTUnwrap(answer.json["kid"] as? String)
        let ref = try XCTUnwrap(answer.json["backend_ref"] as? String)
        XCTAssertTrue(ref.hasPrefix("projects/fake-project/locations/us-east1/keyRings/spire/cryptoKeys/"), ref)

        // Sign as a SPIRE server would: straight through Cloud KMS with the reference keycoord handed out.
        let header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(kid)","typ":"JWT"}"#.utf8))
        let claims = Base64URL.encode(Array(#"{"sub":"spiffe://example.org/workload","aud":["relying-party"],"exp":1999999999}"#.utf8))
        let input = "\(header).\(claims)"
        let client = try RawHTTPClient(port: fake.port)
        let metadata = try client.request("GET", "/computeMetadata/v1/instance/service-accounts/default/token",
                                          headers: [("Metadata-Flavor", "Google")])
        let bearer = try XCTUnwrap(metadata.json["access_token"] as? String)
        let signed = try client.json("POST", "/v1/\(ref):asymmetricSign",
                                     ["digest": ["sha256": PEM.base64(Digest.sha256(Array(input.utf8)))]], bearer: bearer)
        XCTAssertEqual(signed.status, 200, signed.text)
        let der = try XCTUnwrap(PEM.decodeBase64(try XCTUnwrap(signed.json["signature"] as? String)))
        let token = "\(input).\(Base64URL.encode(try ECDSASignature.raw(fromDER: der, coordinateSize: 32)))"

        let jwks = try RawHTTPClient(port: process.publicPort).request("GET", "/.well-known/jwks.json").json
        let output = try PythonCheck.run("service_verify_jwt.py", input: ["jwks": jwks, "tokens": [token, token + "A"]])
        let results = ((output as? [String: Any])?["results"] as? [[String: Any]]) ?? []
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(results.first?["ok"] as? Bool, true, "\(results)")
        XCTAssertEqual(results.first?["kid"] as? String, kid)
        XCTAssertEqual(results.last?["ok"] as? Bool, false, "a broken signature must not verify")
    }

    func testThrottlingOfTheFirstSignCallsIsSurvived() async throws {
        try await fake.fault([["match": "asymmetricSign", "status": 429, "count": 3, "retry_after": 0]])
        let process = try sidecar("gcp-throttled")
        let answer = try ensure(process)
        XCTAssertEqual(answer.status, 200, answer.text)
        let requests = try await kmsRequests()
        XCTAssertGreaterThanOrEqual(requests["asymmetricSign"] ?? 0, 4, "the mint's probe signed through three 429s: \(requests)")
        XCTAssertEqual(requests["createCryptoKey"], 1)
    }

    func testARefusedTokenIsAClear502Problem() async throws {
        // Cloud KMS refuses every token (revoked credentials): after one fresh token, the answer is a 502 problem.
        try await fake.fault([["match": "createCryptoKey", "status": 401, "count": 20]])
        let process = try sidecar("gcp-refused")
        let answer = try ensure(process)
        XCTAssertEqual(answer.status, 502, answer.text)
        XCTAssertEqual(answer.header("Content-Type"), "application/problem+json")
        XCTAssertEqual(answer.json["type"] as? String, "https://keycoord.dev/problems/backend-denied")
        let detail = answer.json["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("UNAUTHENTICATED") && detail.contains("access token"), detail)
        XCTAssertEqual(answer.json["permission"] as? String, "cloudkms.cryptoKeys.create")
        let requests = try await kmsRequests()
        // Each mint (this ensure's, and the rotation loop's at start) retried once with a fresh token, then gave up.
        let creates = requests["createCryptoKey"] ?? 0
        XCTAssertTrue(creates > 0 && creates % 2 == 0, "one retry with a fresh token per mint, then the refusal: \(requests)")
    }
}
