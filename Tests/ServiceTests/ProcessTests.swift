import Foundation
import TestSupport
import XCTest

/// Several `keycoord serve` processes on one state directory, as sidecars on one host
/// sharing a volume: they must mint one key between them and survive a kill -9.
final class ProcessTests: XCTestCase {
    var directory: TemporaryDirectory!
    var processes: [ServeProcess] = []

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("keycoord-procs")
    }

    override func tearDown() {
        processes.forEach { $0.kill() }
        directory.remove()
    }

    func testThreeProcessesMintExactlyOneKeyUnderFiftyConcurrentEnsures() throws {
        for index in 0..<3 {
            processes.append(try ServeProcess.start(stateDir: directory.path, instance: "sidecar-\(index)"))
        }
        let token = try processes[0].token()
        let kids = LockedArray<String>()
        let failures = LockedArray<String>()
        let sidecars = processes
        DispatchQueue.concurrentPerform(iterations: 50) { index in
            let process = sidecars[index % 3]
            do {
                let client = try RawHTTPClient(port: process.controlPort)
                let response = try client.json("POST", "/v1/jwt-keys/rsa-2048/ensure", ["server_id": "spire-\(index)"], bearer: token)
                if response.status == 200, let kid = response.json["kid"] as? String { kids.append(kid) } else { failures.append(response.text) }
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures.values, [])
        XCTAssertEqual(kids.values.count, 50)
        XCTAssertEqual(Set(kids.values).count, 1, "every caller gets the same key")
        let keyFiles = try FileManager.default.subpathsOfDirectory(atPath: directory.path + "/keys")
            .filter { $0.hasSuffix(".pem") && $0.contains("rsa-2048") }
        XCTAssertEqual(keyFiles.count, 1, "exactly one rsa-2048 key minted: \(keyFiles)")
    }

    func testKillingALockHolderFreesTheLockForTheOthers() throws {
        processes.append(try ServeProcess.start(stateDir: directory.path, instance: "holder"))
        processes.append(try ServeProcess.start(stateDir: directory.path, instance: "survivor"))
        let token = try processes[0].token()
        let held = try RawHTTPClient(port: processes[0].controlPort)
            .json("POST", "/v1/locks/maintenance", ["holder": "holder", "ttl_seconds": 600], bearer: token)
        XCTAssertEqual(held.status, 200, held.text)
        let refused = try RawHTTPClient(port: processes[1].controlPort)
            .json("POST", "/v1/locks/maintenance", ["holder": "survivor", "ttl_seconds": 60], bearer: token)
        XCTAssertEqual(refused.status, 409, refused.text)

        processes[0].kill()
        let acquired = try RawHTTPClient(port: processes[1].controlPort)
            .json("POST", "/v1/locks/maintenance", ["holder": "survivor", "ttl_seconds": 60, "wait_seconds": 10], bearer: token)
        XCTAssertEqual(acquired.status, 200, acquired.text)
        XCTAssertGreaterThan(acquired.json["fencing_token"] as? Int ?? 0, held.json["fencing_token"] as? Int ?? Int.max)
    }
}

extension ProcessTests {
    /// A log collector that stops reading must not stop the service: log lines are written
    /// by a thread of their own and dropped (and counted) when the buffer is full. Each lock
    /// call logs an audit line, so 1,500 cycles log several times a pipe's 64 KiB; before,
    /// the writes blocked the threads running the handlers and the requests hung.
    func testAStalledLogPipeDoesNotStallRequests() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let serve = try ServeProcess.start(stateDir: directory.path, instance: "stalled-log", extra: ["--log-level", "info"],
                                           drainStderr: false)
        defer { serve.kill() }
        let token = try serve.token()
        let client = try RawHTTPClient(port: serve.controlPort)
        for index in 0..<1500 {
            let name = "stalled-\(index % 8)"
            let acquired = try client.json("POST", "/v1/locks/\(name)", ["holder": "h", "ttl_seconds": 30], bearer: token)
            XCTAssertEqual(acquired.status, 200, acquired.text)
            let lease = acquired.json["lease_id"] as? String ?? ""
            XCTAssertEqual(try client.request("DELETE", "/v1/locks/\(name)?lease_id=\(lease)", bearer: token).status, 204)
        }
        let jwks = try RawHTTPClient(port: serve.publicPort).request("GET", "/.well-known/jwks.json")
        XCTAssertEqual(jwks.status, 200)
    }
}

/// A `keycoord serve` child process on ephemeral ports, found from its start-up log line.
final class ServeProcess: @unchecked Sendable {
    let process: Process
    let stateDir: String
    let publicPort: Int
    let controlPort: Int

    static var binary: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("keycoord").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("keycoord").path
    }

    /// `drainStderr` false: after the start-up line nobody reads the child's standard error,
    /// as with a stalled log collector; the pipe fills up.
    /// `environment` adds to (or overrides) the test process's environment.
    static func start(stateDir: String, instance: String, extra: [String] = [], environment: [String: String] = [:],
                      drainStderr: Bool = true) throws -> ServeProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.arguments = ["serve", "--state-dir", stateDir, "--public-listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0",
                             "--instance-id", instance, "--log-format", "json"] + extra
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let handle = errors.fileHandleForReading
        var pending = Data()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            for line in String(decoding: pending, as: UTF8.self).split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                      object["msg"] == "keycoord serving",
                      let publicPort = object["public"].flatMap(port), let controlPort = object["control"].flatMap(port)
                else { continue }
                // Keep draining stderr so the child never blocks on a full pipe.
                if drainStderr { handle.readabilityHandler = { _ = $0.availableData } }
                return ServeProcess(process: process, stateDir: stateDir, publicPort: publicPort, controlPort: controlPort)
            }
        }
        process.terminate()
        throw RawHTTPClient.Failure(description: "keycoord serve did not start: \(String(decoding: pending, as: UTF8.self))")
    }

    private static func port(_ address: String) -> Int? {
        address.split(separator: ":").last.flatMap { Int($0) }
    }

    private init(process: Process, stateDir: String, publicPort: Int, controlPort: Int) {
        self.process = process
        self.stateDir = stateDir
        self.publicPort = publicPort
        self.controlPort = controlPort
    }

    func token() throws -> String {
        try String(contentsOfFile: stateDir + "/control-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// SIGKILL: no clean-up runs, as in a crash or an OOM kill.
    func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// An array several threads append to.
final class LockedArray<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Element] = []
    func append(_ value: Element) { lock.lock(); storage.append(value); lock.unlock() }
    var values: [Element] { lock.lock(); defer { lock.unlock() }; return storage }
}
