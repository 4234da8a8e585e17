import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A cloud fake from Tests/python/fakes running as a child process: started with a port
/// file, driven through its admin API (`/__fake/faults`, `/__fake/reset`, `/__fake/state`),
/// stopped with SIGTERM. See Tests/python/fakes/README.md for the contract.
public final class CloudFakeServer: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    /// Where the fake wrote its credential files (`service-account.json`, …).
    public let stateDirectory: String
    public var url: String { "http://127.0.0.1:\(port)" }
    private let process: Process
    private let directory: TemporaryDirectory

    public static let fakesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("python/fakes")

    /// Starts `script` (e.g. `gcp_kms_fake.py`) and waits up to 20 s for its port file.
    public init(_ script: String, arguments: [String] = []) throws {
        directory = try TemporaryDirectory("keycoord-fake")
        stateDirectory = directory.path + "/state"
        let portFile = directory.path + "/port"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.fakesDirectory.appendingPathComponent(script).path, "--port-file", portFile,
                             "--state-dir", stateDirectory] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        if let log = ProcessInfo.processInfo.environment["KEYCOORD_FAKE_LOG_DIR"] ?? ProcessInfo.processInfo.environment["KEYCOORD_TEST_RUN_DIR"] {
            let path = "\(log)/\(script)-\(UUID().uuidString.prefix(8)).log"
            FileManager.default.createFile(atPath: path, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: path)
        }
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                port = value
                break
            }
            guard process.isRunning, Date() < deadline else {
                process.terminate()
                throw Failure(description: "\(script) did not start (is the python package cryptography installed?)")
            }
            usleep(20_000)
        }
    }

    deinit {
        stop()
        directory.remove()
    }

    /// SIGTERM, then waits for the exit (the fake exits 0 at once).
    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Queues faults (`{"match", "status", "count", "retry_after", "delay_seconds", "drop"}`).
    public func fault(_ faults: [[String: Any]]) async throws {
        let body = try JSONSerialization.data(withJSONObject: faults)
        _ = try await admin("POST", "/__fake/faults", body)
    }

    public func reset(_ body: [String: Any] = [:]) async throws {
        _ = try await admin("POST", "/__fake/reset", try JSONSerialization.data(withJSONObject: body))
    }

    /// What the fake holds, and `requests` per operation.
    public func state() async throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try await admin("GET", "/__fake/state", nil)) as? [String: Any] ?? [:]
    }

    /// How many requests of `operation` the fake has seen.
    public func requests(_ operation: String) async throws -> Int {
        ((try await state()["requests"] as? [String: Any])?[operation] as? Int) ?? 0
    }

    /// One admin call on a thread of its own: blocking socket I/O must stay off the
    /// cooperative pool, which has as many threads as cores.
    private func admin(_ method: String, _ path: String, _ body: Data?) async throws -> Data {
        let port = self.port
        let caFile = stateDirectory + "/ca.pem"
        return try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try Self.admin(port: port, caFile: caFile, method, path, body) }) }.start()
        }
    }

    private static func admin(port: Int, caFile: String, _ method: String, _ path: String, _ body: Data?) throws -> Data {
        // The Azure fake serves HTTPS only (with a CA of its own in the state directory).
        if FileManager.default.fileExists(atPath: caFile) {
            let request: [String: Any] = ["url": "https://127.0.0.1:\(port)", "ca_file": caFile, "method": method, "path": path,
                                          "body": body.map { String(decoding: $0, as: UTF8.self) } ?? NSNull()]
            return try PythonCheck.runRaw("fake_admin_tls.py", stdin: try JSONSerialization.data(withJSONObject: request))
        }
        let client = try RawHTTPClient(port: port)
        let headers: [(String, String)] = body == nil ? [] : [("Content-Type", "application/json")]
        let response = try client.request(method, path, headers: headers, body: body.map { [UInt8]($0) }, close: true)
        guard (200..<300).contains(response.status) else {
            throw Failure(description: "fake admin \(method) \(path) answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        return Data(response.body)
    }
}
