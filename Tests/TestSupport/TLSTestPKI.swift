import Foundation

/// A throwaway CA, server certificates and SPIFFE client certificates, made by
/// Tests/python/tls_make_certs.py (PyCA cryptography) in a temporary directory.
public final class TLSTestPKI: Sendable {
    public let directory: TemporaryDirectory

    /// `serverSerials`: one server certificate per serial (`server-N.pem`/`.key`, SAN
    /// localhost and 127.0.0.1); `clients`: name → URI SANs, space-separated (`client-NAME.pem`/`.key`).
    /// `client-stranger` is always made, by `other-ca.pem`.
    public init(serverSerials: [Int], clients: [String: String] = [:]) throws {
        directory = try TemporaryDirectory("keycoord-tls")
        _ = try PythonCheck.run("tls_make_certs.py", input: [
            "dir": directory.path, "server_serials": serverSerials, "clients": clients,
        ] as [String: Any])
    }

    public var caFile: String { directory.file("ca.pem") }
    public func serverCertificate(_ serial: Int) -> String { directory.file("server-\(serial).pem") }
    public func serverKey(_ serial: Int) -> String { directory.file("server-\(serial).key") }
    public func clientCertificate(_ name: String) -> String { directory.file("client-\(name).pem") }
    public func clientKey(_ name: String) -> String { directory.file("client-\(name).key") }

    /// Runs Tests/python/tls_client.py with `request` on its own thread (it blocks on
    /// sockets) and returns its JSON object.
    public static func client(_ request: [String: any Sendable]) async throws -> [String: Any] {
        try decode(await clientOutput(request))
    }

    /// The raw JSON output of tls_client.py, for running it in a separate task.
    public static func clientOutput(_ request: [String: any Sendable]) async throws -> Data {
        let input = try JSONSerialization.data(withJSONObject: request)
        return try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try PythonCheck.runRaw("tls_client.py", stdin: input) }) }.start()
        }
    }

    public static func decode(_ output: Data) throws -> [String: Any] {
        guard let reply = try JSONSerialization.jsonObject(with: output) as? [String: Any] else {
            throw PythonCheck.Failure(description: "tls_client.py printed no object")
        }
        return reply
    }

    public func remove() { directory.remove() }
}
