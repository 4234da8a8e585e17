import Foundation

/// Runs a script from Tests/python: the independent implementations (joserfc,
/// cryptography, botocore, h11) that check our output. The async variants wait on a
/// thread of their own, so a Python start-up never blocks the few threads of Swift's
/// shared task pool that other tests need.
public enum PythonCheck {
    public static var scriptsDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()   // TestSupport
        url.deleteLastPathComponent()   // Tests
        return url.appendingPathComponent("python").path
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: Data
        public var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `script` (a name in Tests/python) to completion, whatever its exit status.
    public static func outcome(_ script: String, arguments: [String] = [], stdin: Data = Data()) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", (scriptsDirectory as NSString).appendingPathComponent(script)] + arguments
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
        // stderr is drained on its own thread so a chatty script cannot fill that pipe
        // while we wait on stdout.
        nonisolated(unsafe) var err = Data()
        let drained = DispatchSemaphore(value: 0)
        Thread { err = errors.fileHandleForReading.readDataToEndOfFile(); drained.signal() }.start()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: out, stderr: err)
    }

    /// Runs `script`; its stdout, or a failure with its stderr when it exits non-zero.
    public static func runRaw(_ script: String, stdin: Data, arguments: [String] = []) throws -> Data {
        let result = try outcome(script, arguments: arguments, stdin: stdin)
        guard result.status == 0 else {
            throw Failure(description: "\(script) exited \(result.status): \(String(decoding: result.stderr, as: UTF8.self))")
        }
        return result.stdout
    }

    /// JSON in, JSON out.
    public static func run(_ script: String, input: Any) throws -> Any {
        let output = try runRaw(script, stdin: try JSONSerialization.data(withJSONObject: input))
        do {
            return try JSONSerialization.jsonObject(with: output, options: [.fragmentsAllowed])
        } catch {
            throw Failure(description: "\(script) printed no JSON: \(String(decoding: output, as: UTF8.self))")
        }
    }

    public static func outcome(_ script: String, arguments: [String] = [], stdin: Data = Data()) async throws -> Outcome {
        try await onOwnThread { try outcome(script, arguments: arguments, stdin: stdin) }
    }

    public static func runRaw(_ script: String, stdin: Data, arguments: [String] = []) async throws -> Data {
        try await onOwnThread { try runRaw(script, stdin: stdin, arguments: arguments) }
    }

    private static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
