#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Testing
import TestSupport
@testable import HTTP
@testable import Transport

/// The server over real loopback sockets: keep-alive, pipelining, bodies, limits, timeouts,
/// shutdown and many connections.
@Suite(.serialized)
struct HTTPServerTests {
    static func get(_ path: String, _ extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: test\r\n\(extra)\r\n"
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                for index in 0..<3 {
                    try client.send(Self.get("/echo?i=\(index)"))
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.bodyText == "echo \(index)")
                    #expect(response.header("Content-Length") == "\(response.body.count)")
                    #expect(response.header("Date")?.hasSuffix(" GMT") == true)
                    #expect(response.header("Connection") == nil)
                }
                try client.send(Self.get("/keys"))
                let keys = try client.readResponse()
                #expect(keys.body == TestServer.keysBody)
                #expect(keys.header("Content-Type") == "application/json")
            }
        }
    }

    /// Handlers of every kind (inline, pooled task, task on the connection's loop) answer
    /// pipelined requests in request order, whichever finishes first.
    @Test func pipelinedRequestsOfEveryHandlerKindAnswerInOrder() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                // The first on-loop request waits longest, so later ones finish before it.
                try client.send(Self.get("/on-loop?ms=80&i=a") + Self.get("/slow?ms=10&i=b")
                                + Self.get("/on-loop?ms=1&i=c") + Self.get("/hello"))
                #expect(try client.readResponse().bodyText == "readable=true same-thread=true data=a")
                #expect(try client.readResponse().bodyText == "slow b")
                #expect(try client.readResponse().bodyText == "readable=true same-thread=true data=c")
                #expect(try client.readResponse().bodyText == "hello")
            }
        }
    }

    @Test func headIsServedByGetWithoutBody() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                for path in ["/keys", "/hello"] {
                    try client.send(Self.get(path))
                    let get = try client.readResponse()
                    try client.send("HEAD \(path) HTTP/1.1\r\nHost: test\r\n\r\n")
                    let head = try client.readResponse(head: true)
                    #expect(head.status == 200)
                    #expect(head.header("Content-Length") == "\(get.body.count)")
                    #expect(head.header("Content-Type") == get.header("Content-Type"))
                }
                // Nothing but the next response follows a HEAD response.
                try client.send(Self.get("/hello"))
                #expect(try client.readResponse().bodyText == "hello")
            }
        }
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let plain = try RawHTTPClient(address)
                try plain.send("GET /hello HTTP/1.0\r\n\r\n")
                let response = try plain.readResponse()
                #expect(response.status == 200)
                #expect(response.header("Connection") == "close")
                #expect(try plain.readEOF())

                let kept = try RawHTTPClient(address)
                try kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(try kept.readResponse().header("Connection") == "keep-alive")
                try kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(try kept.readResponse().status == 200)
            }
        }
    }

    @Test func connectionCloseFromTheClientIsHonoured() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                // The second request arrives in the same packet but follows "close": ignored.
                try client.send(Self.get("/hello", "Connection: close\r\n") + Self.get("/hello"))
                let response = try client.readResponse()
                #expect(response.header("Connection") == "close")
                #expect(try client.readEOF())
            }
        }
    }

    @Test func hundredPipelinedRequestsAnswerInOrder() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                var batch = ""
                for index in 0..<100 {
                    // Async handlers finishing in reverse order must not reorder responses.
                    batch += index % 3 == 0 ? Self.get("/slow?i=\(index)&ms=\((100 - index) / 10)") : Self.get("/echo?i=\(index)")
                }
                try client.send(batch)
                for index in 0..<100 {
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.bodyText == (index % 3 == 0 ? "slow \(index)" : "echo \(index)"))
                }
            }
        }
    }

    @Test func pipelineLimitPausesReadingWithoutLosingRequests() async throws {
        var limits = ServerLimits()
        limits.maxPipelinedRequests = 4
        try await TestServer.run(limits: limits) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                var batch = ""
                for index in 0..<40 { batch += Self.get("/slow?i=\(index)&ms=1") }
                try client.send(batch)
                for index in 0..<40 {
                    #expect(try client.readResponse().bodyText == "slow \(index)")
                }
            }
        }
    }

    @Test func chunkedUploadIsDecoded() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                Thread.sleep(forTimeInterval: 0.05)
                try client.send("1;name=value\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.bodyText == "hello world")
                // The connection stays usable after a chunked body.
                try client.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc")
                #expect(try client.readResponse().bodyText == "abc")
            }
        }
    }

    @Test func expectContinueGetsAnInterimResponse() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
                let interim = try client.readResponse()
                #expect(interim.status == 100)
                try client.send("body")
                let final = try client.readResponse()
                #expect(final.status == 200)
                #expect(final.bodyText == "body")
            }
        }
    }

    @Test func expectContinueIsRefusedWithoutInterimWhenTheBodyIsTooLarge() async throws {
        var limits = ServerLimits()
        limits.maxBodyBytes = 10
        try await TestServer.run(limits: limits) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 413)
                #expect(try client.readEOF())
            }
        }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        let name: String
        let request: String
        let status: Int
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        .init(name: "invalid method", request: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "invalid target", request: "GET a HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "missing Host", request: "GET / HTTP/1.1\r\n\r\n", status: 400),
        .init(name: "repeated Host", request: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "LF-only", request: "GET / HTTP/1.1\nHost: a\n\n", status: 400),
        .init(name: "obs-fold", request: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", status: 400),
        .init(name: "space before colon", request: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400),
        .init(name: "NUL in value", request: "GET / HTTP/1.1\r\nHost: a\u{0}\r\n\r\n", status: 400),
        .init(name: "CL and TE", request: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "repeated CL", request: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", status: 400),
        .init(name: "bad chunk size", request: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 400),
        .init(name: "chunk overflow", request: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", status: 400),
        .init(name: "gzip coding", request: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501),
        .init(name: "HTTP/2.0", request: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505),
        .init(name: "long request line", request: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414),
        .init(name: "large header section", request: "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 17000) + "\r\n\r\n", status: 431),
        .init(name: "too many fields", request: "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: 101) + "\r\n", status: 431),
        .init(name: "large Content-Length", request: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n", status: 413),
        .init(name: "large chunked body", request: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", status: 413),
        .init(name: "bad percent-encoding", request: "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
    ]

    @Test(arguments: refusals)
    func refusalsAreAnsweredThenClosed(_ refusal: Refusal) async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                // A valid request first: the refusal must not disturb what came before it.
                try client.send(Self.get("/hello") + refusal.request)
                #expect(try client.readResponse().status == 200)
                let response = try client.readResponse()
                #expect(response.status == refusal.status)
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.header("Connection") == "close")
                let problem = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                #expect(problem?["status"] as? Int == refusal.status)
                #expect((problem?["type"] as? String)?.hasPrefix("https://keycoord.dev/problems/") == true)
                #expect(try client.readEOF())
            }
        }
    }

    @Test func bodyTooLargeIsReadableWhileTheClientIsStillSending() async throws {
        var limits = ServerLimits()
        limits.maxBodyBytes = 1024
        try await TestServer.run(limits: limits) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
                // Keep sending chunks past the limit, as a client that does not look would.
                let chunk = "100\r\n" + String(repeating: "x", count: 256) + "\r\n"
                for _ in 0..<64 {
                    if (try? client.send(chunk)) == nil { break }
                }
                let response = try client.readResponse()
                #expect(response.status == 413)
                #expect(try client.readEOF())
            }
        }
    }

    @Test func headerTimeoutAnswers408() async throws {
        var limits = ServerLimits()
        limits.headerTimeout = .milliseconds(300)
        try await TestServer.run(limits: limits) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                let started = Date()
                try client.send("GET /hello HTTP/1.1\r\nHost: a\r\n")
                let response = try client.readResponse()
                #expect(response.status == 408)
                #expect(Date().timeIntervalSince(started) >= 0.25)
                #expect(try client.readEOF())
            }
        }
    }

    @Test func bodyTimeoutAnswers408() async throws {
        var limits = ServerLimits()
        limits.bodyTimeout = .milliseconds(300)
        try await TestServer.run(limits: limits) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
                #expect(try client.readResponse().status == 408)
                #expect(try client.readEOF())
            }
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() async throws {
        var limits = ServerLimits()
        limits.idleTimeout = .milliseconds(300)
        try await TestServer.run(limits: limits) { server, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send(Self.get("/hello"))
                #expect(try client.readResponse().status == 200)
                let started = Date()
                #expect(try client.readEOF())
                #expect(Date().timeIntervalSince(started) >= 0.25)
            }
            #expect(server.connectionCount == 0)
        }
    }

    @Test func clientThatDoesNotReadIsDisconnectedAfterTheWriteTimeout() async throws {
        var limits = ServerLimits()
        limits.writeTimeout = .milliseconds(300)
        try await TestServer.run(limits: limits) { server, address in
            let client = try await blocking {
                let client = try RawHTTPClient(address)
                var size: Int32 = 4096
                setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                try client.send(Self.get("/big"))
                return client
            }
            let deadline = ContinuousClock.now + .seconds(5)
            while server.connectionCount > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(server.connectionCount == 0)
            withExtendedLifetime(client) {}
        }
    }

    @Test func silentConnectionIsClosedAfterTheHeaderTimeout() async throws {
        var limits = ServerLimits()
        limits.headerTimeout = .milliseconds(200)
        try await TestServer.run(limits: limits) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                #expect(try client.readEOF())
            }
        }
    }

    @Test func connectionsBeyondTheLimitAreRefusedWithoutDisturbingOthers() async throws {
        var limits = ServerLimits()
        limits.maxConnections = 5
        let observer = CountingObserver()
        try await TestServer.run(limits: limits, observer: observer) { server, address in
            try await blocking {
                var clients: [RawHTTPClient] = []
                for _ in 0..<5 {
                    let client = try RawHTTPClient(address)
                    try client.send(Self.get("/hello"))
                    #expect(try client.readResponse().status == 200)
                    clients.append(client)
                }
                let extra = try RawHTTPClient(address, receiveTimeout: 5)
                try? extra.send(Self.get("/hello"))
                #expect(try extra.readEOF())
                for client in clients {
                    try client.send(Self.get("/hello"))
                    #expect(try client.readResponse().status == 200)
                }
                #expect(server.connectionCount == 5)
            }
        }
        #expect(observer.counts.withLock { $0.rejected } == ["max_connections"])
    }

    @Test func gracefulShutdownFinishesInFlightRequests() async throws {
        let server = HTTPServer()
        let address = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: TestServer.router())
        server.start()
        let responded = try await blocking {
            let idle = try RawHTTPClient(address)
            try idle.send(Self.get("/hello"))
            _ = try idle.readResponse()
            let busy = try RawHTTPClient(address)
            try busy.send(Self.get("/slow?i=1&ms=400"))
            return (idle, busy)
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        async let shutdown: Void = server.shutdown()
        let (idleClosed, response) = try await blocking {
            let (idle, busy) = responded
            return (try idle.readEOF(), try busy.readResponse())
        }
        await shutdown
        #expect(idleClosed)
        #expect(response.status == 200)
        #expect(response.bodyText == "slow 1")
        #expect(response.header("Connection") == "close")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(server.connectionCount == 0)
        #expect(throws: (any Error).self) { try RawHTTPClient(address) }
    }

    @Test func shutdownIsBoundedByTheGracePeriod() async throws {
        var limits = ServerLimits()
        limits.shutdownGrace = .milliseconds(300)
        let server = HTTPServer(limits: limits)
        let address = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: TestServer.router())
        server.start()
        let client = try await blocking {
            let client = try RawHTTPClient(address)
            try client.send(Self.get("/slow?ms=5000"))
            return client
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        await server.shutdown()
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(try await blocking { try client.readEOF() })
    }

    @Test func thousandConcurrentConnections() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(4096, limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        try await TestServer.run { server, address in
            try await blocking {
                var clients: [RawHTTPClient] = []
                for _ in 0..<1000 { clients.append(try RawHTTPClient(address)) }
                for (index, client) in clients.enumerated() { try client.send(Self.get("/echo?i=\(index)")) }
                for (index, client) in clients.enumerated() {
                    #expect(try client.readResponse().bodyText == "echo \(index)")
                }
                #expect(server.connectionCount == 1000)
            }
        }
    }

    @Test func unixSocketListener() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kc-http-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        try await TestServer.run(address: .unix(path: path)) { _, address in
            #expect(address == .unix(path: path))
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send(Self.get("/v1/keys/abc%20d"))
                #expect(try client.readResponse().bodyText == "/v1/keys/{kid} abc d public")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func routerAnswers404And405WithProblemDetails() async throws {
        let observer = CountingObserver()
        try await TestServer.run(observer: observer) { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send(Self.get("/nowhere"))
                let missing = try client.readResponse()
                #expect(missing.status == 404)
                #expect(missing.header("Content-Type") == "application/problem+json")
                try client.send("PUT /v1/keys/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                let wrongMethod = try client.readResponse()
                #expect(wrongMethod.status == 405)
                #expect(wrongMethod.header("Allow") == "GET, DELETE, HEAD")
                try client.send("DELETE /v1/keys/x HTTP/1.1\r\nHost: a\r\n\r\n")
                let deleted = try client.readResponse()
                #expect(deleted.status == 204)
                #expect(deleted.header("Content-Length") == nil)
            }
        }
        let completed = observer.counts.withLock { $0.completed }
        #expect(completed.map(\.status) == [404, 405, 204])
        #expect(completed.map(\.template) == [nil, "/v1/keys/{kid}", "/v1/keys/{kid}"])
    }

    /// Each loop reports to a recorder of its own, asked for once per loop and listener and
    /// called only from that loop's thread: what lets an observer count without shared
    /// cache lines. Nothing is lost or reported twice.
    @Test func eachLoopReportsToItsOwnRecorder() async throws {
        let observer = RecorderObserver()
        try await TestServer.run(observer: observer) { _, address in
            try await blocking {
                for _ in 0..<8 {
                    let client = try RawHTTPClient(address)
                    for _ in 0..<5 {
                        try client.send(Self.get("/hello"))
                        #expect(try client.readResponse().status == 200)
                    }
                }
            }
        }
        let recorders = observer.recorders.withLock { $0 }
        #expect(!recorders.isEmpty)
        #expect(recorders.count <= ProcessInfo.processInfo.activeProcessorCount, "one recorder per loop at most")
        #expect(recorders.allSatisfy { $0.listener == "public" })
        let reports = recorders.map { $0.reports.withLock { $0 } }
        #expect(reports.allSatisfy { $0.threads.count == 1 }, "a recorder is called from its loop's thread only")
        #expect(reports.reduce(0) { $0 + $1.templates.count } == 40)
        #expect(reports.flatMap(\.templates).allSatisfy { $0 == "/hello" })
        #expect(observer.forwarded.withLock { $0 } == 0, "no report bypasses the loops' recorders")
    }

    /// Mutated requests, abrupt closes and half-sent bodies on many connections: the server
    /// must neither crash nor keep a connection, and must keep serving.
    @Test func survivesGarbageAndAbruptCloses() async throws {
        var limits = ServerLimits()
        limits.headerTimeout = .milliseconds(500)
        limits.bodyTimeout = .milliseconds(500)
        try await TestServer.run(limits: limits) { server, address in
            try await blocking {
                var generator = SplitMix64(seed: 0x6b6579636f6f7264)
                let seeds = [
                    Self.get("/echo?i=1"),
                    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                    "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                    Self.get("/slow?ms=5") + Self.get("/keys"),
                ].map { Array($0.utf8) }
                for round in 0..<300 {
                    var bytes = seeds[round % seeds.count]
                    for _ in 0..<(1 + Int(generator.next() % 4)) {
                        let position = Int(generator.next() % UInt64(bytes.count))
                        switch generator.next() % 3 {
                        case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                        case 1: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                        default: bytes.removeSubrange(position..<min(bytes.count, position + 1 + Int(generator.next() % 8)))
                        }
                        if bytes.isEmpty { bytes = [0x0D] }
                    }
                    let client = try RawHTTPClient(address, receiveTimeout: 5)
                    if generator.next() % 2 == 0 {
                        // Send a prefix and vanish.
                        try? client.send(Array(bytes[0..<Int(generator.next() % UInt64(bytes.count))]))
                    } else {
                        try? client.send(bytes)
                        client.shutdownWrite()
                        while (try? client.readResponse()) != nil {}
                    }
                }
                let check = try RawHTTPClient(address)
                try check.send(Self.get("/hello"))
                #expect(try check.readResponse().status == 200)
            }
            let deadline = ContinuousClock.now + .seconds(5)
            while server.connectionCount > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(server.connectionCount == 0)
        }
    }

    @Test func ipv6LoopbackListener() async throws {
        try await TestServer.run(address: .tcp(host: "::1", port: 0)) { _, address in
            let port = try #require(address.tcpPort)
            #expect(port > 0)
            #expect(address.description == "[::1]:\(port)")
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send(Self.get("/hello"))
                #expect(try client.readResponse().bodyText == "hello")
            }
        }
    }

    @Test func routesAddedWhileServingAreSeen() async throws {
        let server = HTTPServer()
        let router = Router()
        let address = try server.listen(.tcp(host: "127.0.0.1", port: 0), name: "public", router: router)
        server.start()
        try await blocking {
            let client = try RawHTTPClient(address)
            try client.send(Self.get("/late"))
            #expect(try client.readResponse().status == 404)
            router.add(.get, "/late", .sync { _ in HTTPServerResponse(status: .ok, body: Array("late".utf8)) })
            try client.send(Self.get("/late"))
            #expect(try client.readResponse().bodyText == "late")
        }
        await server.shutdown()
    }

    @Test func bindingAnAddressInUseFailsAtListen() async throws {
        try await TestServer.run { _, address in
            let other = HTTPServer()
            #expect(throws: (any Error).self) { try other.listen(address, name: "x", router: Router()) }
        }
    }
}
