import Foundation
import HTTPTypes
import Synchronization
import Testing
@testable import HTTP
import HTTP2

/// Request streams through the router: bodies, every handler kind, and the refusals
/// HTTP/1.1 gives too (413, 431) as problem+json on the stream, the connection staying up.
@Suite(.serialized)
struct HTTP2StreamTests {
    @Test func bodiesAndEveryHandlerKind() async throws {
        try await H2TestServer.run { _, port in
            let base = "http://127.0.0.1:\(port)"
            let echo = try await H2TestServer.curl(["--http2-prior-knowledge", "--data-binary", "over h2", "\(base)/echo"])
            #expect(echo.status == 200 && echo.body == "over h2")
            let slow = try await H2TestServer.curl(["--http2-prior-knowledge", "\(base)/slow?ms=20&i=a"])
            #expect(slow.body == "slow a")
            let onLoop = try await H2TestServer.curl(["--http2-prior-knowledge", "\(base)/on-loop"])
            #expect(onLoop.body == "on-loop=true v=2")
            let missing = try await H2TestServer.curl(["--http2-prior-knowledge", "\(base)/nothing"])
            #expect(missing.status == 404 && missing.body.contains("\"type\":\"https://keycoord.dev/problems/not-found\""))
            let wrongMethod = try await H2TestServer.curl(["--http2-prior-knowledge", "-X", "DELETE", "\(base)/keys"])
            #expect(wrongMethod.status == 405)
        }
    }

    /// HTTP/2 requests reach the server's observer (metrics) with route template and status,
    /// as HTTP/1.1 requests do.
    @Test func requestsReachTheObserver() async throws {
        let observer = RecordingObserver()
        try await H2TestServer.run(observer: observer) { _, port in
            _ = try await H2TestServer.curl(["--http2-prior-knowledge", "http://127.0.0.1:\(port)/keys"])
            _ = try await H2TestServer.curl(["--http2-prior-knowledge", "http://127.0.0.1:\(port)/nothing"])
        }
        let completed = observer.completed.withLock { $0 }
        #expect(completed.count == 2)
        #expect(completed.first?.template == "/keys" && completed.first?.status == 200)
        #expect(completed.last?.template == nil && completed.last?.status == 404)
    }

    @Test func bodyOverTheLimitIs413() async throws {
        var limits = ServerLimits()
        limits.maxBodyBytes = 1024
        try await H2TestServer.run(limits: limits) { _, port in
            let big = String(repeating: "x", count: 4096)
            let refused = try await H2TestServer.curl(["--http2-prior-knowledge", "--data-binary", big,
                                                       "http://127.0.0.1:\(port)/echo"])
            #expect(refused.status == 413 && refused.body.contains("problems/"))
            try await HTTP2ConnectionTests.expectServing(port)
        }
    }

    @Test func headerListOverTheLimitIs431() async throws {
        try await H2TestServer.run(http2: HTTP2Limits(maxHeaderListBytes: 4096)) { _, port in
            let result = try await H2TestServer.frames("oversized_headers", port: port, ["size": 8000])
            #expect((result["statuses"] as? [String: String])?["1"] == "431", "\(result)")
            #expect((result["bodies"] as? [String: String])?["1"]?.contains("header-fields-too-large") == true)
            #expect(result["goaway"] is NSNull, "\(result)")
        }
    }

    /// A request whose body never ends is reset (CANCEL) after the request timeout.
    @Test func unfinishedRequestIsReset() async throws {
        try await H2TestServer.run(http2: HTTP2Limits(requestTimeout: .milliseconds(300))) { _, port in
            let result = try await H2TestServer.frames("request_timeout", port: port)
            #expect((result["resets"] as? [String: Int])?["1"] == 0x8, "\(result)")
        }
    }
}

/// The observer calls of a run, in order.
final class RecordingObserver: HTTPServerObserver {
    let completed = Mutex<[(template: String?, status: Int)]>([])

    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {
        completed.withLock { $0.append((routeTemplate, status)) }
    }
    func connectionOpened(listener: String) {}
    func connectionClosed(listener: String) {}
    func connectionRejected(listener: String, reason: String) {}
}
