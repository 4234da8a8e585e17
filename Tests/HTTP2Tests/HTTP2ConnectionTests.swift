import Foundation
import Testing
@testable import HTTP
import HTTP2

/// One HTTP/2 connection against clients that share no code with ours where it matters:
/// curl and h2load (libnghttp2's client side, a different state machine than its server)
/// for the requests a relying party makes, Python's h2/hyperframe for frames a client
/// should never send. After every abuse the server must still answer a fresh client.
@Suite(.serialized)
struct HTTP2ConnectionTests {
    /// The public listener's cache contract: ETag on 200, 304 without a body for a
    /// matching If-None-Match, HEAD with GET's headers and no body.
    @Test func etagNotModifiedAndHead() async throws {
        try await H2TestServer.run { _, port in
            let url = "http://127.0.0.1:\(port)/keys"
            let headers = try await H2TestServer.tool("curl", ["-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", url])
            #expect(headers.output.hasPrefix("HTTP/2 200"))
            #expect(headers.output.contains("etag: \"v1\""))
            #expect(headers.output.contains("cache-control: public, max-age=300"))
            #expect(headers.output.contains("content-length: \(H2TestServer.keysBody.count)"))
            #expect(headers.output.contains("date: "))
            let notModified = try await H2TestServer.curl(["--http2-prior-knowledge", "-H", "If-None-Match: \"v1\"", url])
            #expect(notModified.status == 304 && notModified.body.isEmpty)
            let head = try await H2TestServer.tool("curl", ["-sS", "--http2-prior-knowledge", "-I", url])
            #expect(head.output.hasPrefix("HTTP/2 200"))
            #expect(head.output.contains("content-length: \(H2TestServer.keysBody.count)"))
            #expect(head.output.contains("etag: \"v1\""))
        }
    }

    /// h2load: 2,000 requests over 2 connections, up to 100 streams in flight on each.
    @Test func manyConcurrentStreams() async throws {
        try await H2TestServer.run { _, port in
            let result = try await H2TestServer.tool("h2load", ["-n", "2000", "-c", "2", "-m", "100",
                                                                "http://127.0.0.1:\(port)/keys"])
            #expect(result.status == 0)
            #expect(result.output.contains("2000 succeeded, 0 failed, 0 errored"), "\(result.output)")
            #expect(result.output.contains("status codes: 2000 2xx"), "\(result.output)")
            let frames = try await H2TestServer.frames("concurrent", port: port, ["streams": 100])
            let bodies = try #require(frames["bodies"] as? [String: String])
            #expect(bodies.count == 100)
            #expect(Set(bodies.values) == [String(decoding: H2TestServer.keysBody, as: UTF8.self)])
        }
    }

    /// A preface that starts right and goes wrong: nghttp2 closes the connection.
    @Test func badPrefaceClosesTheConnection() async throws {
        try await H2TestServer.run { _, port in
            let result = try await H2TestServer.frames("bad_preface", port: port)
            #expect(result["closed"] as? Bool == true, "\(result)")
            try await Self.expectServing(port)
        }
    }

    /// Frames the protocol forbids end the connection with GOAWAY and the RFC 9113 code.
    @Test(arguments: [("frame_too_large", 0x6), ("data_on_stream_zero", 0x1)])
    func forbiddenFramesEndInGOAWAY(mode: String, code: Int) async throws {
        try await H2TestServer.run { _, port in
            let result = try await H2TestServer.frames(mode, port: port)
            #expect(result["goaway"] as? Int == code, "\(result)")
            try await Self.expectServing(port)
        }
    }

    /// An idle connection is told GOAWAY(NO_ERROR) after the idle timeout, PINGs or not.
    @Test func idleConnectionGetsGOAWAYDespitePings() async throws {
        try await H2TestServer.run(http2: HTTP2Limits(idleTimeout: .milliseconds(400))) { _, port in
            let result = try await H2TestServer.frames("idle", port: port, ["timeout": 5])
            #expect(result["goaway"] as? Int == 0, "\(result)")
            let seconds = try #require(result["seconds"] as? Double)
            #expect(seconds >= 0.35 && seconds < 3, "\(seconds)")
        }
    }

    static func expectServing(_ port: Int) async throws {
        let fresh = try await H2TestServer.curl(["--http2-prior-knowledge", "http://127.0.0.1:\(port)/keys"])
        #expect(fresh.status == 200 && fresh.version == "2")
    }
}
