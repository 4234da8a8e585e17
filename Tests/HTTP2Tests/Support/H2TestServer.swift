import EventIO
import Foundation
import HTTPTypes
import TestSupport
import Testing
@testable import HTTP
import HTTP2
import Transport

/// An `HTTPServer` whose listener speaks HTTP/1.1 and HTTP/2 (h2c by prior knowledge, or
/// ALPN under TLS) on an ephemeral loopback port, with routes shaped like the public API's:
/// a prerendered JWKS with an ETag and its 304, plus an echo, async and on-loop handlers.
enum H2TestServer {
    static let keysBody = Array(#"{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":"AA","y":"AA"}]}"#.utf8)
    static let etag = "\"v1\""

    static func router() -> Router {
        let router = Router()
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "public, max-age=300"
        fields[.eTag] = etag
        let keys = PrerenderedResponse(status: .ok, headerFields: fields, body: keysBody)
        let notModified = PrerenderedResponse(status: .notModified,
                                              headerFields: [.eTag: etag, .cacheControl: "public, max-age=300"], body: [])
        router.add(.get, "/keys", .sync { request in
            request.headerFields[.ifNoneMatch] == etag ? .prerendered(notModified) : .prerendered(keys)
        })
        router.add(.post, "/echo", .sync { request in
            HTTPServerResponse(status: .ok, headerFields: [.contentType: "application/octet-stream"], body: request.body)
        })
        router.add(.get, "/slow", .async { request in
            try? await Task.sleep(for: .milliseconds(Int(request.queryValue("ms") ?? "0") ?? 0))
            return HTTPServerResponse(status: .ok, body: Array("slow \(request.queryValue("i") ?? "")".utf8))
        })
        router.add(.get, "/on-loop", .asyncOnLoop { request in
            let onLoop = (CurrentReactor.value as? EventLoop)?.inLoop == true
            return HTTPServerResponse(status: .ok, body: Array("on-loop=\(onLoop) v=\(request.version.major)".utf8))
        })
        return router
    }

    static func run(limits: ServerLimits = ServerLimits(), http2: HTTP2Limits = HTTP2Limits(), tls: TLSTestPKI? = nil,
                    observer: (any HTTPServerObserver)? = nil,
                    _ body: (HTTPServer, Int) async throws -> Void) async throws {
        let server = HTTPServer(limits: limits, observer: observer)
        let configuration = tls.map {
            TLSConfiguration(certificateChainFile: $0.serverCertificate(1001), privateKeyFile: $0.serverKey(1001))
        }
        let bound = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: router(), tls: configuration,
                                      http2: http2)
        server.start()
        do {
            try await body(server, try port(of: bound))
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func port(of address: ListenAddress) throws -> Int {
        guard case .tcp(_, let port) = address else { throw POSIXFailure(operation: "bind \(address) (not TCP)", code: EINVAL) }
        return port
    }

    /// Runs a tool to completion on its own thread: exit status and standard output.
    static func tool(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = [executable] + arguments
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                })
            }.start()
        }
    }

    /// curl's answer: `-w` writes the protocol version and status after the body.
    static func curl(_ arguments: [String]) async throws -> (version: String, status: Int, body: String) {
        let result = try await tool("curl", ["-sS", "-w", "\n%{http_version} %{http_code}"] + arguments)
        #expect(result.status == 0, "curl \(arguments) exited \(result.status)")
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let trailer = (lines.last ?? "").split(separator: " ")
        return (String(trailer.first ?? ""), Int(trailer.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Tests/python/h2_frames.py in `mode` against `port`, with `extra` request members.
    static func frames(_ mode: String, port: Int, _ extra: [String: any Sendable] = [:]) async throws -> [String: Any] {
        var request: [String: any Sendable] = ["mode": mode, "host": "127.0.0.1", "port": port]
        for (key, value) in extra { request[key] = value }
        let input = try JSONSerialization.data(withJSONObject: request)
        let output = try await PythonCheck.runRaw("h2_frames.py", stdin: input)
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }
}
