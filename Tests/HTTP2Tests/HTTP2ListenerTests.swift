import Foundation
import TestSupport
import Testing
@testable import HTTP
import HTTP2

/// One listener, both protocols: h2c by prior knowledge and HTTP/1.1 on the same plaintext
/// port, ALPN h2 (with http/1.1 fallback) under TLS — checked with curl (libcurl on
/// nghttp2) and Python's `ssl`, and the same bytes whichever protocol carried them.
@Suite(.serialized)
struct HTTP2ListenerTests {
    @Test func h2cAndHTTP11ServeTheSameBytesOnOnePort() async throws {
        try await H2TestServer.run { _, port in
            let url = "http://127.0.0.1:\(port)/keys"
            let h2 = try await H2TestServer.curl(["--http2-prior-knowledge", url])
            let h1 = try await H2TestServer.curl(["--http1.1", url])
            #expect(h2.version == "2" && h2.status == 200)
            #expect(h1.version == "1.1" && h1.status == 200)
            #expect(h2.body == h1.body)
            #expect(Array(h2.body.utf8) == H2TestServer.keysBody)
        }
    }

    @Test func tlsNegotiatesH2AndFallsBackToHTTP11() async throws {
        let pki = try TLSTestPKI(serverSerials: [1001])
        defer { pki.remove() }
        try await H2TestServer.run(tls: pki) { _, port in
            let url = "https://localhost:\(port)/keys"
            let h2 = try await H2TestServer.curl(["--http2", "--cacert", pki.caFile, url])
            let h1 = try await H2TestServer.curl(["--http1.1", "--cacert", pki.caFile, url])
            #expect(h2.version == "2" && h2.status == 200)
            #expect(h1.version == "1.1" && h1.status == 200)
            #expect(h2.body == h1.body && Array(h2.body.utf8) == H2TestServer.keysBody)
            // Python's ssl offering h2 and http/1.1 gets h2: the server's preference.
            let offered = try await TLSTestPKI.client(["mode": "handshake", "host": "127.0.0.1", "port": port,
                                                       "cafile": pki.caFile])
            #expect(offered["alpn"] as? String == "h2", "\(offered)")
        }
    }

    /// A listener without `http2` stays HTTP/1.1 only: the h2c preface is a bad request.
    @Test func http11OnlyListenerRefusesThePreface() async throws {
        let server = HTTPServer()
        let bound = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: H2TestServer.router())
        server.start()
        let port = try H2TestServer.port(of: bound)
        let result = try await H2TestServer.tool("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                          "--http2-prior-knowledge", "http://127.0.0.1:\(port)/keys"])
        await server.shutdown()
        #expect(result.output != "200")
    }
}

extension HTTP2ListenerTests {
    /// A client offering only protocols the listener does not speak is refused in the
    /// handshake (no_application_protocol), not served something it did not ask for.
    @Test func tlsRefusesAnUnknownApplicationProtocol() async throws {
        let pki = try TLSTestPKI(serverSerials: [1001])
        defer { pki.remove() }
        try await H2TestServer.run(tls: pki) { _, port in
            let refused = try await TLSTestPKI.client(["mode": "handshake", "host": "127.0.0.1", "port": port,
                                                       "cafile": pki.caFile, "alpn": ["spdy/3"]])
            #expect((refused["error"] as? String)?.contains("no application protocol") == true, "\(refused)")
            let http11 = try await TLSTestPKI.client(["mode": "handshake", "host": "127.0.0.1", "port": port,
                                                      "cafile": pki.caFile, "alpn": ["http/1.1"]])
            #expect(http11["alpn"] as? String == "http/1.1", "\(http11)")
        }
    }
}
