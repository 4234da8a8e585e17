import Foundation

/// Runs a script from Tests/python with JSON on stdin and returns its JSON stdout: the
/// independent implementations (joserfc, cryptography, botocore, h11) that check our output.
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

    /// - Returns: the parsed JSON the script printed.
    public static func run(_ script: String, input: Any) throws -> Any {
        let data = try JSONSerialization.data(withJSONObject: input)
        let output = try runRaw(script, stdin: data)
        do {
            return try JSONSerialization.jsonObject(with: output, options: [.fragmentsAllowed])
        } catch {
            throw Failure(description: "\(script) printed no JSON: \(String(decoding: output, as: UTF8.self))")
        }
    }

    public static func runRaw(_ script: String, stdin: Data, arguments: [String] = []) throws -> Data {
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
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(script) exited \(process.terminationStatus): \(String(decoding: err, as: UTF8.self))")
        }
        return out
    }
}
