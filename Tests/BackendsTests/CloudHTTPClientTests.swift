import Foundation
import Testing
@testable import Backends

/// The URLSession client over real loopback sockets (the fake metadata server).
@Suite struct CloudHTTPClientTests {
    @Test func sendsHeadersAndBodyAndReadsTheResponse() async throws {
        let fake = try await AWSCredentialChainTests.Fake()
        defer { fake.helper.stop() }
        let client = HTTPClient(defaultTimeout: 5)
        let url = try #require(URL(string: "\(fake.base)/latest/api/token"))
        let response = try await client.send(HTTPClientRequest(method: "PUT", url: url,
                                                               headers: [("X-aws-ec2-metadata-token-ttl-seconds", "60")]))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "imds-session-token")
        #expect(response.header("Content-Type") == "text/plain")
        let missing = try await client.send(HTTPClientRequest(method: "GET", url: URL(string: "\(fake.base)/nothing")!))
        #expect(missing.status == 404 && !missing.isSuccess)
        // Redirects are returned, not followed: a signed request must not be replayed elsewhere.
        let redirect = try await client.send(HTTPClientRequest(method: "GET", url: URL(string: "\(fake.base)/redirect")!))
        #expect(redirect.status == 302)
        #expect(redirect.header("location") == "/_log")
    }

    @Test func timesOutAndReportsRefusedConnections() async throws {
        // A listening socket that never answers: the request must end at the timeout.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, length) == 0 && listen(silent, 4) == 0
                && getsockname(silent, $0, &length) == 0 }
        }
        try #require(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let client = HTTPClient(defaultTimeout: 60)
        let start = ContinuousClock.now
        await #expect(throws: HTTPClientError.timedOut(url: "http://127.0.0.1:\(port)/", seconds: 0.5)) {
            try await client.send(HTTPClientRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/")!), timeout: 0.5)
        }
        #expect(ContinuousClock.now - start < .seconds(20)) // loose bound, far below the 60 s default
        await #expect { try await client.send(HTTPClientRequest(method: "GET", url: URL(string: "http://127.0.0.1:9/x?secret=1")!)) }
            throws: { error in
                guard case HTTPClientError.transport(let url, _) = error else { return false }
                return url == "http://127.0.0.1:9/x" // no query in messages
            }
    }
}
