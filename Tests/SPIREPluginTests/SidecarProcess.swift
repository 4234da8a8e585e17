import Foundation

/// A `keycoord serve` sidecar for the plugin's hosts: embedded file store, disk backend,
/// the control API on a unix socket in `directory`; ready once it logs "keycoord serving".
/// Starting and stopping wait on a thread of their own, never on the tests' shared pool.
final class SidecarProcess: @unchecked Sendable {
    let process: Process
    let controlURL: String
    let tokenFile: String
    let keysDir: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func start(binary: String, directory: String) async throws -> SidecarProcess {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try SidecarProcess(binary: binary, directory: directory) }) }.start()
        }
    }

    private init(binary: String, directory: String) throws {
        let state = directory + "/state"
        controlURL = "unix://\(state)/control.sock"
        tokenFile = state + "/control-token"
        keysDir = state + "/keys"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--state-dir", state, "--public-listen", "127.0.0.1:0",
                             "--control-listen", "unix:\(state)/control.sock", "--trust-domain", "example.org",
                             "--instance-id", "sidecar", "--log-format", "json"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let handle = errors.fileHandleForReading
        var pending = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty {
                throw Failure(description: "keycoord serve exited: \(String(decoding: pending, as: UTF8.self))")
            }
            pending.append(chunk)
            if String(decoding: pending, as: UTF8.self).contains("\"msg\":\"keycoord serving\"") { break }
        }
        handle.readabilityHandler = { _ = $0.availableData }
    }

    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                self.process.terminate()
                self.process.waitUntilExit()
                continuation.resume()
            }.start()
        }
    }
}
