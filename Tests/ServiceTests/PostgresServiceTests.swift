import Crypto
import Foundation
import TestSupport
import XCTest

/// Sidecars on several "hosts" (separate state directories) sharing one PostgreSQL, as
/// in a multi-cluster trust domain: one key between them, one JWKS, and survival of a
/// killed sidecar and of a database restart.
final class PostgresServiceTests: XCTestCase {
    var directory: TemporaryDirectory!
    var processes: [ServeProcess] = []
    let token = "pg-service-token-" + SecureRandom.hexToken(bytes: 8)
    var tokenFile: String { directory.file("token") }
    var keysDir: String { directory.file("shared-keys") }

    override func setUpWithError() throws {
        // A missing prerequisite fails the test: make test always provides it.
        guard ProcessInfo.processInfo.environment["KEYCOORD_TEST_POSTGRES_URL"] != nil else {
            throw PostgresTestPrerequisite("KEYCOORD_TEST_POSTGRES_URL is not set: run the tests with make test (scripts/with-test-services.sh)")
        }
        directory = try TemporaryDirectory("keycoord-pg-service")
        try "\(token)\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        processes.forEach { $0.kill() }
        directory?.remove()
    }

    /// A fresh database on the test server.
    static func freshDatabase(_ adminURL: String) throws -> String {
        let name = "keycoord_svc_\(SecureRandom.hexToken(bytes: 6))"
        try psql(adminURL, "CREATE DATABASE \(name)")
        guard let slash = adminURL.lastIndex(of: "/") else { throw RawHTTPClient.Failure(description: "bad URL") }
        return String(adminURL[...slash]) + name
    }

    static func psql(_ url: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RawHTTPClient.Failure(description: "psql failed: \(sql)") }
    }

    private func sidecar(_ index: Int, url: String) throws -> ServeProcess {
        let stateDir = directory.file("host-\(index)")
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        return try ServeProcess.start(stateDir: stateDir, instance: "sidecar-\(index)", extra: [
            "--store", "postgres", "--postgres-url", url, "--keys-dir", keysDir,
            "--control-token-file", tokenFile, "--admin-token-file", tokenFile,
        ])
    }

    private func jwks(_ process: ServeProcess) throws -> String {
        try RawHTTPClient(port: process.publicPort).request("GET", "/keys").text
    }

    private func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    func testFiveSidecarsMintOneKeyAndServeOneJWKS() throws {
        let url = try Self.freshDatabase(ProcessInfo.processInfo.environment["KEYCOORD_TEST_POSTGRES_URL"]!)
        for index in 0..<5 { processes.append(try sidecar(index, url: url)) }
        let sidecars = processes
        let token = self.token
        let kids = LockedArray<String>()
        let failures = LockedArray<String>()
        DispatchQueue.concurrentPerform(iterations: 100) { index in
            do {
                let response = try RawHTTPClient(port: sidecars[index % 5].controlPort)
                    .json("POST", "/v1/jwt-keys/ec-p384/ensure", ["server_id": "spire-\(index)"], bearer: token)
                if response.status == 200, let kid = response.json["kid"] as? String { kids.append(kid) } else { failures.append(response.text) }
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures.values, [])
        XCTAssertEqual(Set(kids.values).count, 1, "100 ensure calls across 5 sidecars: one key")
        let files = try FileManager.default.subpathsOfDirectory(atPath: keysDir).filter { $0.hasSuffix(".pem") && $0.contains("ec-p384") }
        XCTAssertEqual(files.count, 1, "\(files)")
        let kid = try XCTUnwrap(kids.values.first)
        XCTAssertTrue(try eventually(2) { try Set(sidecars.map(jwks)).count == 1 && jwks(sidecars[4]).contains(kid) },
                      "every sidecar serves the same JWKS within a second or so")

        // A publish on one sidecar reaches another's JWKS through LISTEN/NOTIFY.
        let key = try PrivateKey.generate(.ecP256)
        let published = try RawHTTPClient(port: sidecars[0].controlPort).json("POST", "/v1/keys", [
            "public_key": key.publicKey.pem, "not_after": WireTimeForTests.format(Date().addingTimeInterval(3600)), "server_id": "spire-x",
        ], bearer: token)
        XCTAssertEqual(published.status, 200, published.text)
        let newKid = try XCTUnwrap(published.json["kid"] as? String)
        XCTAssertTrue(try eventually(2) { try jwks(sidecars[3]).contains(newKid) })
    }

    func testAKilledLockHolderFreesTheLock() throws {
        let url = try Self.freshDatabase(ProcessInfo.processInfo.environment["KEYCOORD_TEST_POSTGRES_URL"]!)
        processes = [try sidecar(0, url: url), try sidecar(1, url: url)]
        let held = try RawHTTPClient(port: processes[0].controlPort)
            .json("POST", "/v1/locks/maintenance", ["holder": "a", "ttl_seconds": 600], bearer: token)
        XCTAssertEqual(held.status, 200, held.text)
        let status = try RawHTTPClient(port: processes[1].controlPort).request("GET", "/v1/locks/maintenance", bearer: token)
        XCTAssertEqual(status.json["holder"] as? String, "a", "any sidecar sees the holder")
        processes[0].kill()
        let started = Date()
        let taken = try RawHTTPClient(port: processes[1].controlPort, timeout: 30)
            .json("POST", "/v1/locks/maintenance", ["holder": "b", "ttl_seconds": 60, "wait_seconds": 20], bearer: token)
        XCTAssertEqual(taken.status, 200, taken.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    func testADatabaseRestartLosesLeasesButNotTheJWKSAndRecoversWithoutARestart() throws {
        let cluster = try PostgresPrivateCluster()
        defer { cluster.destroy() }
        try cluster.start()
        processes = [try sidecar(0, url: cluster.url), try sidecar(1, url: cluster.url)]
        let ensured = try RawHTTPClient(port: processes[0].controlPort)
            .json("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-0"], bearer: token)
        XCTAssertEqual(ensured.status, 200, ensured.text)
        let lease = try RawHTTPClient(port: processes[0].controlPort)
            .json("POST", "/v1/locks/publisher", ["holder": "a", "ttl_seconds": 600], bearer: token)
        let leaseID = try XCTUnwrap(lease.json["lease_id"] as? String)
        let fencingToken = try XCTUnwrap(lease.json["fencing_token"] as? Int)
        let servedBefore = try jwks(processes[1])

        try cluster.stop()
        XCTAssertTrue(try eventually(10) { try RawHTTPClient(port: processes[1].publicPort).request("GET", "/readyz").status == 503 })
        XCTAssertEqual(try jwks(processes[1]), servedBefore, "the last JWKS keeps being served while the store is down")
        let refused = try RawHTTPClient(port: processes[0].controlPort).request("GET", "/v1/keys", bearer: token)
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.json["type"] as? String, "https://keycoord.dev/problems/store-unavailable")

        try cluster.start()
        XCTAssertTrue(try eventually(30) {
            try processes.allSatisfy { try RawHTTPClient(port: $0.publicPort).request("GET", "/readyz").status == 200 }
        }, "both sidecars are ready again without a restart")
        let renew = try RawHTTPClient(port: processes[0].controlPort)
            .json("POST", "/v1/locks/publisher/renew", ["lease_id": leaseID, "ttl_seconds": 60], bearer: token)
        XCTAssertEqual(renew.status, 409, "the lease died with its session: \(renew.text)")
        let fenced = try RawHTTPClient(port: processes[0].controlPort).json("POST", "/v1/keys", [
            "public_key": try PrivateKey.generate(.ecP256).publicKey.pem,
            "not_after": WireTimeForTests.format(Date().addingTimeInterval(3600)), "server_id": "a",
            "fencing": ["lock": "publisher", "token": fencingToken],
        ], bearer: token)
        XCTAssertEqual(fenced.status, 409, fenced.text)
        XCTAssertEqual(fenced.json["type"] as? String, "https://keycoord.dev/problems/stale-fencing-token")
    }

    func testADatabaseDownAtStartIsReportedAndRecoveredFrom() throws {
        let cluster = try PostgresPrivateCluster()
        defer { cluster.destroy() }
        let sidecar = try sidecar(0, url: cluster.url)
        processes = [sidecar]
        let notReady = try RawHTTPClient(port: sidecar.publicPort).request("GET", "/readyz")
        XCTAssertEqual(notReady.status, 503)
        XCTAssertTrue(notReady.text.contains("not connected"), notReady.text)
        try cluster.start()
        XCTAssertTrue(try eventually(40) { try RawHTTPClient(port: sidecar.publicPort).request("GET", "/readyz").status == 200 },
                      "ready once the database is up, without a restart")
    }
}

struct PostgresTestPrerequisite: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
