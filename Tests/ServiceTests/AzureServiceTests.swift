import Foundation
import TestSupport
import XCTest

/// `keycoord serve --backend azure-key-vault` against the Key Vault fake (HTTPS, its own CA):
/// three sidecars on one store, JWTs signed through the fake by Microsoft's SDK and checked
/// by joserfc against the served JWKS, throttling, and refused credentials.
final class AzureServiceTests: XCTestCase {
    var fake: CloudFakeServer!
    var directory: TemporaryDirectory!
    var processes: [ServeProcess] = []
    let vault = "https://keycoord-test.vault.azure.net"

    override func setUpWithError() throws {
        fake = try CloudFakeServer("azure_kv_fake.py")
        directory = try TemporaryDirectory("keycoord-azure")
    }

    override func tearDown() {
        processes.forEach { $0.kill() }
        fake.stop()
        directory.remove()
    }

    private var url: String { "https://127.0.0.1:\(fake.port)" }

    private func client() throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(fake.stateDirectory)/client.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
    }

    private func sidecar(_ index: Int, stateDir: String, secret: String? = nil) throws -> ServeProcess {
        let client = try client()
        return try ServeProcess.start(stateDir: stateDir, instance: "azure-\(index)", extra: [
            "--backend", "azure-key-vault", "--azure-vault-url", vault, "--azure-endpoint", url,
            "--azure-authority-host", url, "--azure-ca-file", "\(fake.stateDirectory)/ca.pem",
        ], environment: [
            "AZURE_TENANT_ID": client["tenant_id"] ?? "", "AZURE_CLIENT_ID": client["client_id"] ?? "",
            "AZURE_CLIENT_SECRET": secret ?? client["client_secret"] ?? "",
        ])
    }

    /// Blocking socket work stays off the cooperative pool.
    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// 50 concurrent ensures spread over the sidecars; the one key's kid, backend and reference.
    private static func ensureFromFifty(_ keyType: String, _ sidecars: [ServeProcess]) throws -> [String: String] {
        let token = try sidecars[0].token()
        let answers = LockedArray<[String: String]>()
        let failures = LockedArray<String>()
        DispatchQueue.concurrentPerform(iterations: 50) { index in
            do {
                let response = try RawHTTPClient(port: sidecars[index % 3].controlPort, timeout: 60)
                    .json("POST", "/v1/jwt-keys/\(keyType)/ensure", ["server_id": "spire-\(index)"], bearer: token)
                if response.status == 200 {
                    answers.append(response.json.compactMapValues { $0 as? String })
                } else {
                    failures.append(response.text)
                }
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures.values, [])
        XCTAssertEqual(answers.values.count, 50)
        XCTAssertEqual(Set(answers.values.compactMap { $0["kid"] }).count, 1, "every caller gets the same key")
        XCTAssertEqual(Set(answers.values.compactMap { $0["backend_ref"] }).count, 1)
        return try XCTUnwrap(answers.values.first)
    }

    func testThreeSidecarsMintOneKeyPerTypeAndJWTsSignedInKeyVaultVerifyAgainstTheJWKS() async throws {
        for index in 0..<3 { processes.append(try sidecar(index, stateDir: directory.path)) }
        // Throttling on the first creates: survived by retrying after Retry-After.
        try await fake.fault([["match": "createKey", "status": 429, "count": 2, "retry_after": 1]])
        var tokens: [[String: Any]] = []
        for (keyType, alg) in [("rsa-2048", "RS256"), ("ec-p256", "ES256")] {
            let ensured = try await onThread { [processes] in try Self.ensureFromFifty(keyType, processes) }
            XCTAssertEqual(ensured["backend"], "azure-key-vault")
            let ref = try XCTUnwrap(ensured["backend_ref"])
            XCTAssertTrue(ref.hasPrefix("\(vault)/keys/"), ref)
            tokens.append(["key_path": try XCTUnwrap(URL(string: ref)?.path), "alg": alg, "kid": try XCTUnwrap(ensured["kid"]),
                           "claims": ["sub": "spiffe://example.org/workload", "aud": ["api://AzureADTokenExchange"],
                                      "exp": Int(Date().timeIntervalSince1970) + 600]])
        }
        let state = try await fake.state()
        XCTAssertGreaterThanOrEqual((state["requests"] as? [String: Any])?["createKey"] as? Int ?? 0, 4, "the throttled creates were retried")
        XCTAssertEqual((state["keys"] as? [String: Any])?.count, 2, "one Key Vault key per key type: \(state["keys"] ?? "")")
        let client = try client()
        let signed = try PythonCheck.run("azure_sign_jwt.py", input: [
            "url": url, "ca_file": "\(fake.stateDirectory)/ca.pem", "tenant_id": client["tenant_id"] ?? "",
            "client_id": client["client_id"] ?? "", "client_secret": client["client_secret"] ?? "", "tokens": tokens,
        ]) as? [String: Any]
        let jwts = try XCTUnwrap(signed?["tokens"] as? [String])
        let jwks = try RawHTTPClient(port: processes[1].publicPort).request("GET", "/.well-known/jwks.json")
        let verdicts = try PythonCheck.run("service_verify_jwt.py", input: [
            "jwks": try JSONSerialization.jsonObject(with: Data(jwks.body)), "tokens": jwts,
        ]) as? [String: Any]
        let results = try XCTUnwrap(verdicts?["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["ok"] as? Bool }, [true, true], "\(results)")
        XCTAssertEqual(results.map { $0["kid"] as? String }, tokens.map { $0["kid"] as? String })
    }

    func testRefusedCredentialsAreAClearProblem() throws {
        processes.append(try sidecar(9, stateDir: directory.path, secret: "not-the-secret"))
        let response = try RawHTTPClient(port: processes[0].controlPort, timeout: 60)
            .json("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"], bearer: try processes[0].token())
        XCTAssertEqual(response.status, 502, response.text)
        XCTAssertTrue(response.text.contains("backend-denied"), response.text)
        XCTAssertTrue(response.text.contains("AZURE_CLIENT_SECRET"), response.text)
        XCTAssertTrue(response.text.contains("invalid_client"), response.text)
    }
}
