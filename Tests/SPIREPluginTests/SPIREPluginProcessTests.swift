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
}
