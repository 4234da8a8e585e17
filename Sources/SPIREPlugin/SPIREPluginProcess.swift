#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRPC
import HTTP
import Logging
import Transport

/// keycoord as SPIRE's KeyManager plugin process: go-plugin's handshake, then gRPC on a unix
/// socket in a private directory until the host asks it to stop (or SIGTERM), logging in
/// hclog's JSON on stderr. Returns the process's exit status.
public enum SPIREPluginProcess {
    public static func run(environment: [String: String] = ProcessInfo.processInfo.environment) async -> Int32 {
        let logger = Logger(label: "keycoord-spire-plugin") { HCLogHandler(module: $0) }
        let handshake: GoPluginHandshake
        do {
            handshake = try GoPluginHandshake.prepare(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("keycoord spire-plugin: \(error)\n".utf8))
            return 1
        }
        defer { handshake.cleanUp() }
        let shutdown = ShutdownLatch()
        let state = PluginState(logger: logger)
        let keyManager = KeyManagerService(state: { try state.current() }, logger: logger)
        var methods = GoPluginServices.methods(shutdown: shutdown)
        methods.merge(state.methods) { $1 }
        methods.merge(keyManager.methods) { $1 }
        var limits = ServerLimits()
        // The host's Shutdown is the end: in-flight calls get a moment, not the default 10 s.
        limits.shutdownGrace = .seconds(1)
        let server = HTTPServer(limits: limits)
        do {
            try server.listen(.unix(path: handshake.socketPath), name: "plugin", streams: GRPCServer(methods: methods),
                              unixSocketMode: 0o600)
        } catch {
            logger.error("cannot listen on the plugin socket", metadata: ["error": "\(error)"])
            return 1
        }
        server.start()
        let signals = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        signal(SIGTERM, SIG_IGN)
        signals.setEventHandler { shutdown.open() }
        signals.resume()
        // One write of the whole line: the host reads stdout line by line from the first byte.
        FileHandle.standardOutput.write(Data((handshake.line + "\n").utf8))
        logger.info("serving", metadata: ["socket": "\(handshake.socketPath)"])
        await shutdown.wait()
        await server.shutdown()
        signals.cancel()
        return 0
    }
}
