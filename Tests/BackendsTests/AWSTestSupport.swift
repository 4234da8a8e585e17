import Crypto
import Foundation
import TestSupport
@testable import Backends

/// Helpers the AWS tests share: the python checks under Tests/python, long-running
/// python helpers (fault proxy, fake metadata endpoints, a private moto), and moto's URL.
enum AWSTestSupport {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let pythonDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("python")

    /// moto's URL from scripts/with-test-services.sh; the tests need it and say so.
    static func motoURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["KEYCOORD_TEST_MOTO_URL"], !url.isEmpty else {
            throw Failure(description: "KEYCOORD_TEST_MOTO_URL is not set: run under ./scripts/with-test-services.sh")
        }
        return url
    }

    /// A trust domain no other test uses, so tests sharing one moto never see each other's keys.
    static func uniqueTrustDomain(_ label: String) -> String {
        "\(label)-\(SecureRandom.hexToken(bytes: 4)).example.org"
    }

    /// The wire client behind a backend made by `motoBackend`, for calls the backend does not make.
    static func wire(_ backend: AWSKMSBackend) throws -> AWSKMSClient {
        guard let client = backend.client as? AWSKMSClient else {
            throw Failure(description: "the backend does not talk to KMS over the wire")
        }
        return client
    }

    /// Runs blocking work (process I/O) on a Dispatch thread: blocking the few threads of
    /// Swift's cooperative pool would stall every other test running in parallel.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs a python script to completion with `input` on stdin; returns stdout.
    static func runPython(_ script: String, arguments: [String] = [], input: Data = Data()) async throws -> Data {
        try await PythonCheck.runRaw(script, stdin: input, arguments: arguments)
    }

    /// A backend on moto with test credentials and the production settings (signing with
    /// MessageType DIGEST, which the test moto honours as real KMS does).
    static func motoBackend(endpoint: String, credentials: AWSCredentials = AWSCredentials(accessKeyID: "testing",
                                                                                          secretAccessKey: "testing"),
                            region: String = "us-east-1", configure: (inout AWSKMSConfig) -> Void = { _ in }) throws
        -> AWSKMSBackend {
        var config = AWSKMSConfig(region: region, endpoint: endpoint, credentials: credentials, deletionWindowDays: 7)
        configure(&config)
        return try AWSKMSBackend(config: config, environment: [:])
    }
}

/// A python helper that keeps running: started with its arguments, it prints one first
/// line (readiness, a port or JSON) and serves until its stdin closes.
final class AWSTestHelperProcess: @unchecked Sendable {
    let firstLine: String
    private let process: Process
    private let stdin: Pipe

    /// Starts `script` and waits (off the cooperative pool) for its first line.
    static func start(_ script: String, arguments: [String] = []) async throws -> AWSTestHelperProcess {
        try await AWSTestSupport.offPool { try AWSTestHelperProcess(script, arguments: arguments) }
    }

    private init(_ script: String, arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", AWSTestSupport.pythonDirectory.appendingPathComponent(script).path] + arguments
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        var line = Data()
        let reader = stdout.fileHandleForReading
        while true {
            let byte = reader.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        firstLine = String(decoding: line, as: UTF8.self)
        guard !firstLine.isEmpty else {
            process.terminate()
            throw AWSTestSupport.Failure(description: "\(script) exited before it was ready")
        }
    }

    /// The port from a `READY <port>` line.
    var readyPort: Int? {
        guard firstLine.hasPrefix("READY ") else { return nil }
        return Int(firstLine.dropFirst(6))
    }

    /// Closes the helper's stdin; it then shuts down (and stops what it started) by itself.
    /// Not waiting keeps the caller off a blocking wait.
    func stop() {
        try? stdin.fileHandleForWriting.close()
    }

    deinit { stop() }
}
