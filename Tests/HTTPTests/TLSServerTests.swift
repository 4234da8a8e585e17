import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestSupport
@testable import HTTP
@testable import Transport

/// TLS on real sockets with real OpenSSL, checked by clients that share no code with ours:
/// curl and Python's `ssl`. Certificates come from PyCA cryptography (tls_make_certs.py).
@Suite(.serialized)
struct TLSServerTests {
    /// Serves TestServer's routes over TLS from `live.pem`/`live.key`, copies of server-1001.
    static func run(limits: ServerLimits = ServerLimits(), observer: (any HTTPServerObserver)? = nil,
                    _ body: (TLSTestPKI, Int, String, String) async throws -> Void) async throws {
        let pki = try TLSTestPKI(serverSerials: [1001, 1002])
        defer { pki.remove() }
        let liveCert = pki.directory.file("live.pem"), liveKey = pki.directory.file("live.key")
        try FileManager.default.copyItem(atPath: pki.serverCertificate(1001), toPath: liveCert)
        try FileManager.default.copyItem(atPath: pki.serverKey(1001), toPath: liveKey)
        let server = HTTPServer(limits: limits, observer: observer)
        let bound = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: TestServer.router(),
                                      tls: TLSConfiguration(certificateChainFile: liveCert, privateKeyFile: liveKey))
        server.start()
        do {
            try await body(pki, try #require(bound.tcpPort), liveCert, liveKey)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func get(_ pki: TLSTestPKI, _ port: Int, version: String? = nil, path: String = "/hello") async throws -> [String: Any] {
        var request: [String: any Sendable] = ["mode": "get", "host": "127.0.0.1", "port": port, "cafile": pki.caFile, "path": path]
        request["version"] = version
        return try await TLSTestPKI.client(request)
    }

    /// Replaces `path` atomically with `source`'s bytes, as a rotation tool does.
    static func replace(_ path: String, with source: String) throws {
        let staging = path + ".new"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.copyItem(atPath: source, toPath: staging)
        guard rename(staging, path) == 0 else { throw POSIXFailure(operation: "rename", code: errno) }
    }

    @Test func curlOverTLS13AndTLS12() async throws {
        try await Self.run { pki, port, _, _ in
            for flags in [["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]] {
                let arguments = ["-sS", "--cacert", pki.caFile] + flags + ["https://localhost:\(port)/keys", "https://127.0.0.1:\(port)/hello"]
                let result = try await blocking { try IndependentClientTests.run("curl", arguments) }
                #expect(result.status == 0, "\(flags): \(result.output)")
                #expect(result.output == String(decoding: TestServer.keysBody, as: UTF8.self) + "hello")
            }
        }
    }

    @Test func largeResponseAndPipelinedRequestsOverTLS() async throws {
        try await Self.run { pki, port, _, _ in
            // 32 MiB through partial writes and EAGAIN on a slow reader (curl writes to a pipe).
            let big = try await blocking {
                try IndependentClientTests.run("curl", ["-sS", "--cacert", pki.caFile, "-o", "/dev/null", "-w", "%{size_download}",
                                                        "https://localhost:\(port)/big"])
            }
            #expect(big.status == 0, "\(big.output)")
            #expect(big.output == String(32 << 20))
            // 600 pipelined requests (several TLS records, past the pipelining limit): all
            // answered, in order.
            let pipelined = try await TLSTestPKI.client(["mode": "pipeline", "host": "127.0.0.1", "port": port,
                                                         "cafile": pki.caFile, "count": 600])
            #expect(pipelined["bodies"] as? [String] == (0..<600).map { "echo \($0)" }, "\(pipelined["error"] ?? "")")
        }
    }

    @Test func versionsCiphersAndALPN() async throws {
        try await Self.run { pki, port, _, _ in
            let tls13 = try await Self.get(pki, port, version: "1.3")
            #expect(tls13["status"] as? Int == 200, "\(tls13)")
            #expect(tls13["version"] as? String == "TLSv1.3")
            #expect(tls13["alpn"] as? String == "http/1.1")
            #expect(tls13["serial"] as? Int == 1001)

            let tls12 = try await Self.get(pki, port, version: "1.2")
            #expect(tls12["version"] as? String == "TLSv1.2", "\(tls12)")
            #expect(tls12["alpn"] as? String == "http/1.1")
            let cipher = tls12["cipher"] as? String ?? ""
            #expect(cipher.hasPrefix("ECDHE-") && (cipher.contains("GCM") || cipher.contains("CHACHA20")), "\(cipher)")

            let tls11 = try await Self.get(pki, port, version: "1.1")
            let error = tls11["error"] as? String ?? ""
            #expect(tls11["status"] == nil)
            #expect(error.uppercased().contains("PROTOCOL_VERSION") || error.contains("protocol version"), "\(tls11)")

            // The refused client did not disturb the server.
            #expect(try await Self.get(pki, port)["status"] as? Int == 200)
        }
    }

    @Test func garbageAndStalledHandshakesAreClosedWhileOthersAreServed() async throws {
        var limits = ServerLimits()
        limits.tlsHandshakeTimeout = .seconds(1)
        try await Self.run(limits: limits) { pki, port, _, _ in
            let request: [String: any Sendable] = ["mode": "stall", "host": "127.0.0.1", "port": port, "cafile": pki.caFile,
                                                   "path": "/hello", "garbage_count": 3, "silent_count": 3, "wait": 8]
            let result = try await TLSTestPKI.client(request)
            #expect(result["served"] as? Bool == true, "\(result)")
            let closed = result["closed_after"] as? [Any] ?? []
            #expect(closed.count == 6)
            // Garbage is refused at once; silent clients after the 1 s handshake timeout.
            for (index, value) in closed.enumerated() {
                let seconds = value as? Double
                #expect(seconds != nil, "connection \(index) was never closed: \(result)")
                if index >= 3, let seconds { #expect(seconds >= 0.8 && seconds < 6, "silent client closed after \(seconds) s") }
            }
        }
    }

    @Test func handshakesBeyondTheCapAreRefused() async throws {
        var limits = ServerLimits()
        // Long enough that the silent clients still hold both slots when the real one
        // arrives on a loaded machine.
        limits.tlsHandshakeTimeout = .seconds(4)
        limits.maxTLSHandshakes = 2
        let observer = ReloadObserver()
        try await Self.run(limits: limits, observer: observer) { pki, port, _, _ in
            let request: [String: any Sendable] = ["mode": "stall", "host": "127.0.0.1", "port": port, "cafile": pki.caFile,
                                                   "path": "/hello", "silent_count": 2, "wait": 10]
            let result = try await TLSTestPKI.client(request)
            // Both slots were held by silent clients, so the real client was refused...
            #expect(result["served"] as? Bool == false, "\(result)")
            #expect(observer.rejected.contains("max_tls_handshakes"))
            // ...and once they timed out, clients are served again.
            #expect(try await Self.get(pki, port)["status"] as? Int == 200)
        }
    }

    @Test func reloadUnderLoadKeepsEstablishedConnections() async throws {
        let observer = ReloadObserver()
        try await Self.run(observer: observer) { pki, port, liveCert, liveKey in
            let request: [String: any Sendable] = ["mode": "reload_watch", "host": "127.0.0.1", "port": port, "cafile": pki.caFile,
                                                   "path": "/hello", "new_serial": 1002, "seconds": 30,
                                                   "ready_file": pki.directory.file("watching")]
            let watched = Task { try await TLSTestPKI.clientOutput(request) }
            // Replace only once the client holds its established connection and has a few
            // requests on fresh ones behind it.
            let deadline = ContinuousClock.now + .seconds(30)
            while !FileManager.default.fileExists(atPath: pki.directory.file("watching")) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(500))
            // Key first, then certificate: in between the pair mismatches, which must be
            // refused and then picked up whole on a later check.
            try Self.replace(liveKey, with: pki.serverKey(1002))
            try Self.replace(liveCert, with: pki.serverCertificate(1002))
            let result = try TLSTestPKI.decode(await watched.value)
            #expect(result["serials"] as? [Int] == [1001, 1002], "\(result)")
            #expect(result["failures"] as? Int == 0, "\(result)")
            #expect((result["requests"] as? Int ?? 0) > 2)
            #expect(result["persistent_ok"] as? Bool == true)
            #expect(result["persistent_serial"] as? Int == 1001)
            #expect(observer.reloads.contains { $0 == nil })
        }
    }

    @Test func badReplacementKeepsTheOldCertificate() async throws {
        let observer = ReloadObserver()
        try await Self.run(observer: observer) { pki, port, liveCert, _ in
            let junk = pki.directory.file("junk.pem")
            try Data("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: junk))
            try Self.replace(liveCert, with: junk)
            let deadline = ContinuousClock.now + .seconds(10)
            while observer.reloads.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let failure = observer.reloads.first ?? nil
            #expect(failure?.description.contains(liveCert) == true, "\(observer.reloads)")
            let after = try await Self.get(pki, port)
            #expect(after["status"] as? Int == 200, "\(after)")
            #expect(after["serial"] as? Int == 1001)
        }
    }

    @Test func requiredClientCertificateBecomesTheRequestsPeer() async throws {
        let id = "spiffe://example.org/spire/server/node-a"
        let pki = try TLSTestPKI(serverSerials: [1001], clients: ["node": id])
        defer { pki.remove() }
        let router = Router()
        router.add(.get, "/peer", .sync { request in
            let text = request.tlsPeer.map { "\($0.spiffeIDs.joined(separator: ",")) \($0.uriSANs.count) \($0.subject)" } ?? "none"
            return HTTPServerResponse(status: .ok, body: Array(text.utf8))
        })
        let server = HTTPServer()
        let bound = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "control", router: router,
                                      tls: TLSConfiguration(certificateChainFile: pki.serverCertificate(1001), privateKeyFile: pki.serverKey(1001),
                                                            clientCAFile: pki.caFile, clientAuth: .required))
        server.start()
        do {
            let port = try #require(bound.tcpPort)
            var request: [String: any Sendable] = ["mode": "get", "host": "127.0.0.1", "port": port, "cafile": pki.caFile, "path": "/peer",
                                                   "cert": pki.clientCertificate("node"), "key": pki.clientKey("node")]
            let verified = try await TLSTestPKI.client(request)
            #expect(verified["body"] as? String == "\(id) 1 /CN=node", "\(verified)")

            // A certificate from another CA, or none at all, never reaches a handler.
            request["cert"] = pki.clientCertificate("stranger")
            request["key"] = pki.clientKey("stranger")
            let stranger = try await TLSTestPKI.client(request)
            #expect(stranger["status"] == nil && stranger["error"] != nil, "\(stranger)")
            request["cert"] = nil
            request["key"] = nil
            let anonymous = try await TLSTestPKI.client(request)
            #expect(anonymous["status"] == nil && anonymous["error"] != nil, "\(anonymous)")
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func plaintextRequestsHaveNoPeer() async throws {
        let router = Router()
        router.add(.get, "/peer", .sync { request in
            HTTPServerResponse(status: .ok, body: Array((request.tlsPeer == nil ? "none" : "peer").utf8))
        })
        let server = HTTPServer()
        let bound = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: router)
        server.start()
        let result = try await blocking { try IndependentClientTests.run("curl", ["-sS", "http://\(bound)/peer"]) }
        await server.shutdown()
        #expect(result.output == "none")
    }

    @Test func unusableFilesFailAtListen() throws {
        let pki = try TLSTestPKI(serverSerials: [1001, 1002])
        defer { pki.remove() }
        let server = HTTPServer()
        #expect(throws: TLSError.self) {
            try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: Router(),
                              tls: TLSConfiguration(certificateChainFile: pki.serverCertificate(1001), privateKeyFile: pki.serverKey(1002)))
        }
        #expect(throws: TLSError.self) {
            try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: Router(),
                              tls: TLSConfiguration(certificateChainFile: pki.directory.file("missing.pem"), privateKeyFile: pki.serverKey(1001)))
        }
    }
}

/// Records TLS reload outcomes and rejections.
final class ReloadObserver: HTTPServerObserver {
    private let state = Mutex<(reloads: [TLSError?], rejected: [String])>(([], []))

    var reloads: [TLSError?] { state.withLock { $0.reloads } }
    var rejected: [String] { state.withLock { $0.rejected } }

    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {}
    func connectionOpened(listener: String) {}
    func connectionClosed(listener: String) {}
    func connectionRejected(listener: String, reason: String) { state.withLock { $0.rejected.append(reason) } }
    func tlsContextReloaded(listener: String, error: TLSError?) { state.withLock { $0.reloads.append(error) } }
}
