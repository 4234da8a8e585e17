import Foundation

/// Runs Tests/python/core_vectors.py (PyCA `cryptography` and `joserfc`) so Core and
/// Crypto tests can check keycoord's output against independent implementations.
public enum CoreVectors {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `request` (with `op`) as JSON and returns the decoded JSON answer.
    public static func run(_ request: [String: Any]) throws -> [String: Any] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("python/core_vectors.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "core_vectors.py failed: \(String(decoding: stderr, as: UTF8.self))")
        }
        guard let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Failure(description: "core_vectors.py did not answer a JSON object")
        }
        return answer
    }
}
