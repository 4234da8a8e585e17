#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// go-plugin's start-up contract, plugin side: the host proves it meant to start us (SPIRE's
/// magic cookie for the plugin type), we agree on an app protocol version, listen on a unix
/// socket in a private temp directory, and announce it with one line on stdout:
/// `CORE|APP|unix|PATH|grpc` (core protocol 1).
struct GoPluginHandshake: Sendable {
    /// SPIRE's cookie for a plugin type is the type name as both key and value.
    static let pluginType = "KeyManager"
    static let coreProtocolVersion = 1
    static let appProtocolVersion = 1

    let directory: String
    var socketPath: String { directory + "/plugin.sock" }

    /// Why the process cannot be a plugin here.
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// Checks the environment go-plugin's host sets; makes the private socket directory.
    static func prepare(environment: [String: String]) throws -> GoPluginHandshake {
        guard environment[pluginType] == pluginType else {
            throw Refusal(description: """
                This is keycoord's SPIRE KeyManager plugin: SPIRE server starts it (plugin_cmd in \
                server.conf's KeyManager "keycoord" block), it is not meant to be run by hand.
                """)
        }
        if let offered = environment["PLUGIN_PROTOCOL_VERSIONS"], !offered.isEmpty {
            let versions = offered.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard versions.contains(appProtocolVersion) else {
                throw Refusal(description: "the host offers plugin protocol versions \(offered); this plugin speaks \(appProtocolVersion)")
            }
        }
        let base = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/keycoord-plugin-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw Refusal(description: "cannot create a private socket directory under \(base): \(String(cString: strerror(errno)))")
        }
        return GoPluginHandshake(directory: String(cString: made))
    }

    /// The line go-plugin's host reads from our stdout.
    var line: String {
        "\(Self.coreProtocolVersion)|\(Self.appProtocolVersion)|unix|\(socketPath)|grpc"
    }

    /// Removes the socket and its directory.
    func cleanUp() {
        unlink(socketPath)
        rmdir(directory)
    }
}
