import Foundation
import Testing
@testable import HTTP
@testable import Transport

/// Responses checked by implementations that share no code with ours: Python's h11 (a strict
/// HTTP/1.1 state machine) and curl.
@Suite(.serialized)
struct IndependentClientTests {
    static let scriptDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("python")

    /// Runs a tool and returns its exit status and standard output.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func h11AcceptsEveryResponse() async throws {
        try await TestServer.run { _, address in
            let host = try #require(address.tcpHost), port = try #require(address.tcpPort)
            let script = Self.scriptDirectory.appendingPathComponent("http_h11_client.py").path
            let result = try await blocking { try Self.run("python3", [script, host, String(port)]) }
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.hasPrefix("ok "))
        }
    }

    @Test func curlOverTCPAndUnixSocket() async throws {
        try await TestServer.run { _, address in
            let host = try #require(address.tcpHost), port = try #require(address.tcpPort)
            let result = try await blocking {
                try Self.run("curl", ["-sS", "--http1.1", "-D", "-", "http://\(host):\(port)/keys", "http://\(host):\(port)/keys"])
            }
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
            #expect(result.output.contains(String(decoding: TestServer.keysBody, as: UTF8.self)))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kc-curl-\(getpid()).sock").path
        try await TestServer.run(address: .unix(path: path)) { _, _ in
            let result = try await blocking {
                try Self.run("curl", ["-sS", "--unix-socket", path, "-X", "POST", "--data-binary", "over unix", "http://x/echo"])
            }
            #expect(result.status == 0)
            #expect(result.output == "over unix")
        }
    }
}
