import Foundation
import Testing
@testable import HTTP
import HTTP2

/// The bounds that libnghttp2 enforces from `HTTP2Limits`, seen from Python's h2.
@Suite(.serialized)
struct HTTP2LimitsTests {
    @Test func defaultsAreTheDocumentedOnes() {
        let limits = HTTP2Limits()
        #expect(limits.maxConcurrentStreams == 100)
        #expect(limits.maxHeaderListBytes == 16 * 1024)
        #expect(limits.maxFrameBytes == 16 * 1024)
        #expect(limits.streamWindowBytes == 65_535)
        #expect(limits.connectionWindowBytes == 1024 * 1024)
        #expect(limits.maxResetBurst == 200 && limits.resetsPerSecond == 33)
        #expect(limits.maxContinuationFrames == 8)
        #expect(limits.idleTimeout == .seconds(60) && limits.requestTimeout == .seconds(30) && limits.writeTimeout == .seconds(30))
    }

    /// A stream past SETTINGS_MAX_CONCURRENT_STREAMS, once the client has acknowledged the
    /// setting, is a protocol violation (RFC 9113 §5.1.2): GOAWAY(PROTOCOL_ERROR).
    @Test func streamsBeyondTheLimitEndTheConnection() async throws {
        try await H2TestServer.run(http2: HTTP2Limits(maxConcurrentStreams: 10)) { _, port in
            let within = try await H2TestServer.frames("concurrent", port: port, ["streams": 10])
            #expect((within["statuses"] as? [String: String])?.count == 10, "\(within)")
            let result = try await H2TestServer.frames("max_streams", port: port, ["streams": 11])
            #expect(result["goaway"] as? Int == 0x1, "\(result)")
            try await HTTP2ConnectionTests.expectServing(port)
        }
    }

    /// Rapid reset (CVE-2023-44487): HEADERS then RST_STREAM, over and over. Past the
    /// burst the connection is torn down with GOAWAY, and other clients are still served.
    @Test func rapidResetFloodEndsInGOAWAY() async throws {
        try await H2TestServer.run(http2: HTTP2Limits(maxResetBurst: 50, resetsPerSecond: 1)) { _, port in
            let result = try await H2TestServer.frames("rapid_reset", port: port, ["streams": 2000])
            #expect(result["goaway"] is Int || result["closed"] as? Bool == true, "\(result)")
            let sent = try #require(result["sent"] as? Int)
            #expect(sent < 2000, "the flood went through: \(result)")
            try await HTTP2ConnectionTests.expectServing(port)
        }
    }
}
