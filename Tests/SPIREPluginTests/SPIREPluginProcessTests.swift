import Foundation
import Testing
import TestSupport

/// The plugin as SPIRE meets it: the built keycoord executable, started by Python grpcio
/// playing go-plugin's host (tests/python/spire_plugin_host.py), every service called over the
/// unix socket, signatures verified with `cryptography`, stderr parsed as hclog JSON.
struct SPIREPluginProcessTests {
    static let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    static let protoDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("proto").path

    @Test func grpcioHostCallsEveryService() async throws {
        let directory = try TemporaryDirectory()
        // The name SPIRE configurations without arguments use: a link beside keycoord.
        let link = directory.path + "/keycoord-spire-plugin"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Self.binaries.appendingPathComponent("keycoord").path)
        let outcome = try await PythonCheck.outcome("spire_plugin_host.py",
                                                    arguments: [link, Self.protoDirectory, directory.path + "/keys.json"])
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(outcome.text.hasPrefix("ok 24"), "\(outcome.text)")
    }

    /// go-plugin's real client (Debian's 1.0.1, as SPIRE's catalog uses it) loads the plugin,
    /// pings it, configures it and verifies a SignData signature with ecdsa.VerifyASN1.
    @Test func goPluginHostLoadsThePlugin() async throws {
        let directory = try TemporaryDirectory()
        let link = directory.path + "/keycoord-spire-plugin"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Self.binaries.appendingPathComponent("keycoord").path)
        let script = URL(fileURLWithPath: Self.protoDirectory).deletingLastPathComponent()
            .appendingPathComponent("Tests/go/run-spirehost.sh").path
        let result = try await Self.run(script, [link, directory.path + "/keys.json"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
        // go-plugin's host read our stderr as hclog JSON: the lines arrive at their level.
        #expect(result.output.contains("[INFO]  spirehost.keycoord-spire-plugin: configured:"), "\(result.output)")
    }

    /// Runs a program on a thread of its own; its exit status and combined output.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = arguments
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    process.standardError = pipe
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                })
            }.start()
        }
    }
}
