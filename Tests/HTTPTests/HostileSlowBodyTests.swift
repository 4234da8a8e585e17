#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import HTTP
@testable import Transport

/// Slow-body attacks: a client that keeps sending a byte now and then must not keep its
/// connection past the body timeout (the deadline runs from the end of the head, not from
/// the last byte), and many such clients must not slow a well-behaved one. The service
/// does not expose the body timeout as a setting, so this runs against `HTTPServer` with a
/// short one.
@Suite(.serialized)
struct HostileSlowBodyTests {
    static let bodyTimeout = 0.5

    static func limits() -> ServerLimits {
        var limits = ServerLimits()
        limits.bodyTimeout = .milliseconds(Int(bodyTimeout * 1000))
        return limits
    }

    /// Sends `head`, then trickles `body` a byte every 50 ms until the server stops
    /// accepting it or 4 s pass; returns the status it got, whether the server closed, and
    /// the time from the first body byte.
    static func trickle(_ address: ListenAddress, head: String, body: [UInt8]) throws -> (status: Int?, closed: Bool, seconds: Double) {
        let client = try RawHTTPClient(address, receiveTimeout: 5)
        try client.send(head)
        let started = Date()
        for byte in body {
            if (try? client.send([byte])) == nil || Date().timeIntervalSince(started) > 4 { break }
            usleep(50_000)
        }
        let status = (try? client.readResponse())?.status
        return (status, (try? client.readEOF()) ?? false, Date().timeIntervalSince(started))
    }

    @Test func contentLengthBodyTrickledByteByByteIsCutAtTheBodyTimeout() async throws {
        try await TestServer.run(limits: Self.limits()) { _, address in
            let outcome = try await blocking {
                try Self.trickle(address, head: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n",
                                 body: Array(repeating: UInt8(ascii: "b"), count: 200))
            }
            #expect(outcome.status == 408)
            #expect(outcome.closed)
            #expect(outcome.seconds >= Self.bodyTimeout * 0.9)
            #expect(outcome.seconds < 3, "steady trickling does not extend the body timeout")
        }
    }

    @Test func chunkedBodyTrickledByteByByteIsCutAtTheBodyTimeout() async throws {
        try await TestServer.run(limits: Self.limits()) { _, address in
            let chunks = Array(String(repeating: "1\r\nx\r\n", count: 100).utf8)
            let outcome = try await blocking {
                try Self.trickle(address, head: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", body: chunks)
            }
            #expect(outcome.status == 408)
            #expect(outcome.closed)
            #expect(outcome.seconds < 3)
        }
    }

    @Test func manySlowBodiesDoNotStarveAWellBehavedClient() async throws {
        try await TestServer.run(limits: Self.limits()) { _, address in
            let attackers = Task.detached {
                await withTaskGroup(of: Int?.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            try? await blocking {
                                try Self.trickle(address, head: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n",
                                                 body: Array(repeating: UInt8(ascii: "b"), count: 100)).status ?? -1
                            }
                        }
                    }
                    var statuses: [Int?] = []
                    for await status in group { statuses.append(status) }
                    return statuses
                }
            }
            let served = try await blocking {
                let client = try RawHTTPClient(address, receiveTimeout: 5)
                var served = 0
                for _ in 0..<40 {
                    try client.send("GET /keys HTTP/1.1\r\nHost: a\r\n\r\n")
                    if try client.readResponse().status == 200 { served += 1 }
                    usleep(20_000)
                }
                return served
            }
            #expect(served == 40)
            let statuses = await attackers.value
            #expect(statuses.count == 50)
            #expect(statuses.allSatisfy { $0 == 408 })
        }
    }
}
