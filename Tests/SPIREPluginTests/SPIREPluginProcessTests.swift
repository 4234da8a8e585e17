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

    /// Shared JWT keys against a real `keycoord serve` (file store, disk backend), grpcio as
    /// SPIRE: slots, SignData verified with `cryptography` and joserfc, restart, taint,
    /// bad token, sidecar down; then a sidecar on https with client certificates: ca_file
    /// and a token, the token rotated in both files, mutual TLS, an untrusted server and a
    /// foreign client certificate (Tests/python/spire_plugin_sidecar.py).
    @Test func sharedJWTKeysThroughTheSidecar() async throws {
        let directory = try TemporaryDirectory()
        let keycoord = Self.binaries.appendingPathComponent("keycoord").path
        let link = directory.path + "/keycoord-spire-plugin"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: keycoord)
        let outcome = try await PythonCheck.outcome("spire_plugin_sidecar.py",
                                                    arguments: [keycoord, link, Self.protoDirectory, directory.path])
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(outcome.text.hasPrefix("ok 32"), "\(outcome.text)")
    }

    /// Shared keys in AWS KMS (the test moto): the plugin signs through KMS Sign, ECDSA,
    /// PKCS #1 v1.5 and PSS verified with `cryptography` (Tests/python/spire_plugin_cloud.py).
    @Test func sharedJWTKeysInAWSKMS() async throws {
        let moto = try #require(ProcessInfo.processInfo.environment["KEYCOORD_TEST_MOTO_URL"],
                                "KEYCOORD_TEST_MOTO_URL is not set: run under ./scripts/with-test-services.sh")
        let outcome = try await Self.cloudCheck(["aws", moto])
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(outcome.text.hasPrefix("ok 7"), "\(outcome.text)")
    }

    /// Shared keys in GCP Cloud KMS (the protocol fake): DER ECDSA and PKCS #1 v1.5 through
    /// asymmetricSign, verified with `cryptography`; PSS or another hash, which the key's
    /// fixed algorithm cannot sign, is INVALID_ARGUMENT.
    @Test func sharedJWTKeysInGCPCloudKMS() async throws {
        let fake = try CloudFakeServer("gcp_kms_fake.py")
        defer { fake.stop() }
        let outcome = try await Self.cloudCheck(["gcp", fake.url, fake.stateDirectory])
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(outcome.text.hasPrefix("ok 5"), "\(outcome.text)")
    }

    /// Shared keys in Azure Key Vault (the protocol fake, HTTPS with its own CA): Key
    /// Vault's r‖s signature handed to SPIRE as DER, PKCS #1 v1.5 and PS256, verified with
    /// `cryptography`.
    @Test func sharedJWTKeysInAzureKeyVault() async throws {
        let fake = try CloudFakeServer("azure_kv_fake.py")
        defer { fake.stop() }
        let outcome = try await Self.cloudCheck(["azure", "https://127.0.0.1:\(fake.port)", fake.stateDirectory])
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(outcome.text.hasPrefix("ok 7"), "\(outcome.text)")
    }

    /// Tests/python/spire_plugin_cloud.py with a sidecar on the backend `service` names.
    static func cloudCheck(_ service: [String]) async throws -> PythonCheck.Outcome {
        let directory = try TemporaryDirectory()
        let keycoord = binaries.appendingPathComponent("keycoord").path
        let link = directory.path + "/keycoord-spire-plugin"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: keycoord)
        return try await PythonCheck.outcome("spire_plugin_cloud.py",
                                             arguments: [keycoord, link, protoDirectory, directory.path] + service)
    }

    /// The fleet simulation's short run (bench/fleet/plugin_fleet.py): SPIRE-like servers
    /// with clock offsets, each its own plugin, sign JWT-SVIDs through SignData across
    /// plugin restarts, a lost SPIRE journal and a taint; a caching relying party verifies
    /// every token; at most 3 keys in the JWKS, X.509 CA keys distinct per server, the
    /// tainted key never handed out.
    @Test func fleetOfSPIREServersKeepsTheRotationPromise() async throws {
        let root = URL(fileURLWithPath: Self.protoDirectory).deletingLastPathComponent()
        let result = try await Self.run("/usr/bin/env", ["python3", root.appendingPathComponent("bench/fleet/plugin_fleet.py").path,
                                                         "--binary", Self.binaries.appendingPathComponent("keycoord").path,
                                                         "--servers", "4", "--restarts", "2", "--duration", "20",
                                                         "--taint-at", "0.5"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\"failed_verifications\": 0"), "\(result.output)")
    }

    /// go-plugin's real client (Debian's 1.0.1, as SPIRE's catalog uses it) loads the plugin,
    /// pings it, configures it against a running sidecar and verifies SignData signatures
    /// with Go's crypto: ecdsa.VerifyASN1 for a local and a shared key, rsa.VerifyPKCS1v15,
    /// rsa.VerifyPSS with Go's salt-length conventions.
    @Test func goPluginHostLoadsThePlugin() async throws {
        let directory = try TemporaryDirectory()
        let keycoord = Self.binaries.appendingPathComponent("keycoord").path
        let link = directory.path + "/keycoord-spire-plugin"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: keycoord)
        let sidecar = try await SidecarProcess.start(binary: keycoord, directory: directory.path)
        let script = URL(fileURLWithPath: Self.protoDirectory).deletingLastPathComponent()
            .appendingPathComponent("Tests/go/run-spirehost.sh").path
        let result: (status: Int32, output: String)
        do {
            result = try await Self.run(script, [link, directory.path + "/keys.json", sidecar.controlURL, sidecar.tokenFile,
                                                 sidecar.keysDir])
        } catch {
            await sidecar.stop()
            throw error
        }
        await sidecar.stop()
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
