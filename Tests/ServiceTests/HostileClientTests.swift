import Foundation
import TestSupport
import XCTest

/// Hostile clients against the whole service over real sockets: slow and flooding
/// headers, lying chunk sizes, request smuggling, odd bytes in names, hostile JSON. Each
/// attack must get its status (or a close), must not crash the service or change the
/// registry or the file system, and must not stop a well-behaved client from getting its
/// JWKS meanwhile (`HostileWatch`).
final class HostileClientTests: XCTestCase {
    var harness: ServiceHarness!

    /// Short header and idle timeouts keep the slow attacks quick; the store lives one level
    /// down so a sibling directory can stand for "a file outside the state dir".
    override func setUp() async throws {
        harness = try await ServiceHarness.start {
            $0.stateDir += "/state"
            $0.headerTimeout = .seconds(1)
            $0.idleTimeout = .seconds(3)
        }
        _ = try harness.control("POST", "/v1/jwt-keys/ec-p256/ensure", ["server_id": "spire-1"])
        let victim = harness.directory.path + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try Data("do not touch\n".utf8).write(to: URL(fileURLWithPath: victim + "/secret"))
    }

    override func tearDown() async throws {
        await harness.stop()
    }

    /// Runs `attack` while a well-behaved client fetches the JWKS, then checks that the
    /// client was always served, and that neither the registry nor the files changed.
    private func underAttack(_ name: String, _ attack: () throws -> Void) throws {
        let sequence = try harness.sequence()
        let kids = try harness.jwksKids()
        let topLevel = try FileManager.default.contentsOfDirectory(atPath: harness.directory.path).sorted()
        let watch = HostileWatch(port: harness.publicPort)
        try attack()
        usleep(100_000)
        let report = watch.stop()
        XCTAssertTrue(report.failures.isEmpty, "\(name): the well-behaved client failed: \(report.failures.prefix(5))")
        XCTAssertGreaterThan(report.served, 0, "\(name): the well-behaved client was never served")
        // Loose (the machine is shared); bench/hostile measures the real latency.
        XCTAssertLessThan(report.slowest, .seconds(5), "\(name): a JWKS fetch took \(report.slowest)")
        XCTAssertEqual(try harness.sequence(), sequence, "\(name) changed the registry")
        XCTAssertEqual(try harness.jwksKids(), kids, "\(name) changed the JWKS")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: harness.directory.path).sorted(), topLevel,
                       "\(name) created files beside the state dir")
        XCTAssertEqual(try String(contentsOfFile: harness.directory.path + "/victim/secret", encoding: .utf8), "do not touch\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: harness.directory.path + "/victim"), ["secret"])
        let odd = (FileManager.default.enumerator(atPath: harness.directory.path + "/state")?.allObjects as? [String] ?? [])
            .filter { path in path.unicodeScalars.contains { !$0.isASCII || $0 == "%" || $0 == "\\" || $0 == "\0" } }
        XCTAssertEqual(odd, [], "\(name) left oddly named files in the state dir")
    }

    /// Sends `raw` in one write and expects one refusal from `statuses`, then a close
    /// with nothing more: a request smuggled behind the refused one must not be answered.
    private func assertRefusedAndClosed(_ raw: [UInt8], _ statuses: Set<Int>, _ name: String, port: Int? = nil) throws {
        let client = try RawHTTPClient(port: port ?? harness.controlPort, timeout: 5)
        try? client.sendRaw(raw)
        let response = try client.readResponse()
        XCTAssertTrue(statuses.contains(response.status), "\(name): got \(response.status) \(response.text)")
        XCTAssertEqual(response.header("Connection")?.lowercased(), "close", "\(name) announces the close")
        XCTAssertThrowsError(try client.readResponse(), "\(name): a second response came back") { error in
            XCTAssertTrue("\(error)".contains("closed"), "\(name): the connection was left open (\(error))")
        }
    }

    private func assertRefusedAndClosed(_ raw: String, _ statuses: Set<Int>, _ name: String, port: Int? = nil) throws {
        try assertRefusedAndClosed(Array(raw.utf8), statuses, name, port: port)
    }

    func testSlowlorisHeadersTrickledByteByByteAreCutAtTheHeaderTimeout() throws {
        let port = harness.publicPort
        try underAttack("slowloris") {
            let count = 30
            let outcomes = Outcomes()
            let group = DispatchGroup()
            for index in 0..<count {
                group.enter()
                // One thread each, so all trickle at once (concurrentPerform would run only
                // as many as there are cores).
                Thread {
                    defer { group.leave() }
                    let started = Date()
                    guard let client = try? RawHTTPClient(port: port, timeout: 5) else {
                        outcomes.add(status: nil, closed: false, seconds: 0)
                        return
                    }
                    // Without a header timeout this would keep the connection for 15 s.
                    let head = Array("GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nX-Slow-\(index): ".utf8)
                        + Array(repeating: UInt8(ascii: "a"), count: 300)
                    for byte in head {
                        if (try? client.sendRaw([byte])) == nil || Date().timeIntervalSince(started) > 15 { break }
                        usleep(50_000)
                    }
                    let status = (try? client.readResponse())?.status
                    outcomes.add(status: status, closed: client.isClosedByPeer(), seconds: Date().timeIntervalSince(started))
                }.start()
            }
            group.wait()
            let all = outcomes.all
            XCTAssertEqual(all.count, count)
            for outcome in all {
                XCTAssertEqual(outcome.status, 408, "a trickled head gets 408")
                XCTAssertTrue(outcome.closed, "and is closed")
                XCTAssertGreaterThanOrEqual(outcome.seconds, 0.9, "not before the header timeout")
                // Loose: the header timeout is 1 s; the bound only shows trickling does not
                // hold the connection for the 15 s the client would keep going.
                XCTAssertLessThan(outcome.seconds, 10, "trickling does not extend the header timeout")
            }
        }
    }

    /// What each slowloris connection saw, collected across threads.
    private final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [(status: Int?, closed: Bool, seconds: Double)] = []
        func add(status: Int?, closed: Bool, seconds: Double) { lock.withLock { list.append((status, closed, seconds)) } }
        var all: [(status: Int?, closed: Bool, seconds: Double)] { lock.withLock { list } }
    }

    func testHeaderFloodsAreRefusedWith431() throws {
        try underAttack("header flood") {
            var many = "GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\n"
            for index in 0..<150 { many += "X-Flood-\(index): x\r\n" }
            try assertRefusedAndClosed(many + "\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", [431], "150 headers", port: harness.publicPort)

            let huge = "GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nX-Huge: " + String(repeating: "h", count: 20_000) + "\r\n\r\n"
            try assertRefusedAndClosed(huge, [431], "one 20 KB header", port: harness.publicPort)

            let longLine = "GET /.well-known/jwks.json?" + String(repeating: "q", count: 10_000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"
            try assertRefusedAndClosed(longLine, [414], "10 KB request line", port: harness.publicPort)

            // A flood of small headers sent endlessly: the server stops reading at its limit
            // instead of buffering whatever the client sends.
            let endless = try RawHTTPClient(port: harness.publicPort, timeout: 5)
            try endless.sendRaw("GET / HTTP/1.1\r\nHost: localhost\r\n")
            var sent = 0
            while sent < 1 << 20, (try? endless.sendRaw(String(repeating: "X-A: b\r\n", count: 512))) != nil { sent += 4096 }
            XCTAssertEqual((try? endless.readResponse())?.status, 431)
        }
    }

    func testHugeAndOverflowingChunkSizesAreRefused() throws {
        let head = "POST /v1/locks/chunky HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(harness.token)\r\nTransfer-Encoding: chunked\r\n\r\n"
        let followUp = "GET /v1/keys HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(harness.token)\r\n\r\n"
        try underAttack("chunk sizes") {
            let cases: [(String, String, Set<Int>)] = [
                ("overflowing size", "ffffffffffffffffffffffff\r\n", [400]),
                ("2^64 exactly", "10000000000000000\r\n", [400]),
                ("size past the body limit", "7fffffffffff\r\nabc\r\n", [413]),
                ("sum of sizes past the body limit", String(repeating: "8000\r\n" + String(repeating: "a", count: 0x8000) + "\r\n", count: 3), [413]),
                ("negative size", "-1\r\na\r\n0\r\n\r\n", [400]),
                ("hex prefix", "0x10\r\n0123456789abcdef\r\n0\r\n\r\n", [400]),
                ("space inside the size", "1 0\r\n0123456789abcdef\r\n0\r\n\r\n", [400]),
                ("size line without CRLF", String(repeating: "0", count: 200), [400]),
                ("chunk longer than its size", "2\r\nabcdef\r\n0\r\n\r\n", [400]),
            ]
            for (name, body, statuses) in cases {
                try assertRefusedAndClosed(head + body + followUp, statuses, name)
            }
        }
    }

    func testSmugglingVariantsAreRefusedAndNothingBehindThemIsAnswered() throws {
        let token = harness.token
        let smuggled = "GET /v1/keys HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\n\r\n"
        func post(_ framing: String, version: String = "1.1", body: String = "0\r\n\r\n") -> String {
            "POST /v1/locks/smuggle HTTP/\(version)\r\nHost: a\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n\(framing)\r\n" + body + smuggled
        }
        try underAttack("smuggling") {
            let cases: [(String, String, Set<Int>)] = [
                ("CL.TE", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), [400]),
                ("TE.CL", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), [400]),
                ("TE chunked, identity", post("Transfer-Encoding: chunked, identity\r\n"), [400, 501]),
                ("TE identity, chunked", post("Transfer-Encoding: identity, chunked\r\n"), [400, 501]),
                ("TE twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), [400, 501]),
                ("TE chunked then identity", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"), [400, 501]),
                ("space before colon", post("Transfer-Encoding : chunked\r\n"), [400]),
                ("tab before colon", post("Transfer-Encoding\t: chunked\r\n"), [400]),
                ("xchunked", post("Transfer-Encoding: xchunked\r\n"), [400, 501]),
                ("chunkedx", post("Transfer-Encoding: chunkedx\r\n"), [400, 501]),
                ("quoted chunked", post("Transfer-Encoding: \"chunked\"\r\n"), [400, 501]),
                ("vertical tab before value", post("Transfer-Encoding:\u{0B}chunked\r\n"), [400, 501]),
                ("form feed after value", post("Transfer-Encoding: chunked\u{0C}\r\n"), [400, 501]),
                ("obs-fold continuation", post("Transfer-Encoding: identity\r\n chunked\r\n"), [400]),
                ("folded header name line", post(" Transfer-Encoding: chunked\r\n"), [400]),
                ("TE in HTTP/1.0", post("Transfer-Encoding: chunked\r\n", version: "1.0"), [400]),
                ("empty TE", post("Transfer-Encoding: \r\n"), [400, 501]),
                ("CL with plus", post("Content-Length: +5\r\n", body: "{}   "), [400]),
                ("CL with minus", post("Content-Length: -5\r\n", body: "{}   "), [400]),
                ("CL with inner space", post("Content-Length: 5 0\r\n", body: "{}   "), [400]),
                ("CL list", post("Content-Length: 5, 5\r\n", body: "{}   "), [400]),
                ("CL twice", post("Content-Length: 5\r\nContent-Length: 5\r\n", body: "{}   "), [400]),
                ("CL differing", post("Content-Length: 5\r\nContent-Length: 50\r\n", body: "{}   "), [400]),
                ("CL hex", post("Content-Length: 0x5\r\n", body: "{}   "), [400]),
                ("CL vertical tab", post("Content-Length:\u{0B}5\r\n", body: "{}   "), [400]),
                ("CL overflowing", post("Content-Length: 99999999999999999999999\r\n", body: "{}"), [400, 413]),
                ("bare LF in head", "POST /v1/locks/smuggle HTTP/1.1\nHost: a\nContent-Length: 2\n\n{}" + smuggled, [400]),
                ("bare CR in head", "POST /v1/locks/smuggle HTTP/1.1\r\nHost: a\rX: y\r\nContent-Length: 2\r\n\r\n{}" + smuggled, [400]),
                ("NUL in header value", post("X-Nul: a\u{00}b\r\nContent-Length: 2\r\n", body: "{}"), [400]),
                ("two Hosts", "GET /v1/keys HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled, [400]),
            ]
            for (name, raw, statuses) in cases {
                try assertRefusedAndClosed(raw, statuses, name)
            }
        }
        XCTAssertEqual(try harness.control("GET", "/v1/locks/smuggle").json["fencing_token"] as? Int, 0,
                       "no smuggled lock request got through")
    }

    func testOddBytesInKidsAndLockNamesNeverReachTheFileSystem() throws {
        let names = [
            "%2E%2E%2F%2E%2E%2Fvictim%2Fsecret", "..%2f..%2fvictim%2fsecret", "..%5c..%5cvictim", "%2e%2e%2f",
            "%00", "a%00b", "%c0%ae%c0%ae", "%c0%af", "%e0%80%ae", "%ff%fe", "a%5cb", "%e2%80%ae", "%f0%9f%94%91",
            "caf%c3%a9", "a%2fb", "a%20b", "%0d%0aX-Injected:%201", "a%22b", String(repeating: "a", count: 300),
            "%25", "~root", "$(id)", "a;b", "a*",
        ]
        let token = harness.token
        func call(_ method: String, _ path: String, _ body: String = "") throws -> RawHTTPClient.Response {
            try harness.controlClient().request(method, path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                                                body: body.isEmpty ? nil : Array(body.utf8))
        }
        try underAttack("odd names") {
            for name in names {
                let requests = [
                    ("GET", "/v1/keys/\(name)", ""), ("DELETE", "/v1/keys/\(name)", ""), ("POST", "/v1/keys/\(name)/taint", ""),
                    ("GET", "/v1/locks/\(name)", ""), ("POST", "/v1/locks/\(name)", #"{"holder":"h","ttl_seconds":5}"#),
                    ("DELETE", "/v1/locks/\(name)?lease_id=x", ""), ("POST", "/v1/locks/\(name)/renew", #"{"lease_id":"x","ttl_seconds":5}"#),
                    ("POST", "/v1/jwt-keys/\(name)/ensure", #"{"server_id":"s"}"#),
                ]
                for (method, path, body) in requests {
                    let response = try call(method, path, body)
                    XCTAssertTrue([400, 404].contains(response.status), "\(method) \(path): \(response.status) \(response.text)")
                }
            }
            // ".." and "..." are lock names the documented grammar allows; they stay
            // names (no dot-segment removal) and their files stay inside the locks directory.
            for name in ["..", "%2e%2e", "..."] {
                XCTAssertEqual(try call("POST", "/v1/locks/\(name)", #"{"holder":"h","ttl_seconds":5}"#).status, name == "%2e%2e" ? 409 : 200, name)
            }
            for name in ["..", "%2e%2e"] {
                XCTAssertEqual(try call("GET", "/v1/keys/\(name)").status, 400, "kid \(name)")
            }
            // Bytes a request target may not carry at all: refused by the parser, or by the
            // name checks when the parser lets them through.
            for raw in ["/v1/keys/caf\u{e9}", "/v1/locks/a\\b", "/v1/locks/a\u{7f}b", "/v1/keys/\u{202e}", "/v1/locks/a\tb"] {
                let client = try harness.controlClient()
                try client.sendRaw("GET \(raw) HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\n\r\n")
                let status = try client.readResponse().status
                XCTAssertTrue([400, 404].contains(status), "raw \(raw.debugDescription): \(status)")
            }
            var overlong = Array("GET /v1/locks/".utf8) + [0xC0, 0xAE, 0xC0, 0xAE, 0xFF] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            try assertRefusedAndClosed(overlong, [400], "raw overlong UTF-8")
            overlong = Array("GET /.well-known/".utf8) + [0xC0, 0xAE, 0xC0, 0xAE] + Array("/victim HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            try assertRefusedAndClosed(overlong, [400], "raw overlong UTF-8 on the public listener", port: harness.publicPort)
            for path in ["/.well-known/..%2f..%2fvictim%2fsecret", "/../../victim/secret", "/.well-known/%2e%2e/%2e%2e/victim/secret", "/keys/..%00"] {
                let response = try harness.publicClient().request("GET", path)
                XCTAssertTrue([400, 404].contains(response.status), "public \(path): \(response.status)")
                XCTAssertFalse(response.text.contains("do not touch"))
            }
        }
        let locks = try FileManager.default.contentsOfDirectory(atPath: harness.directory.path + "/state/store/locks")
        XCTAssertTrue(locks.contains("...lock") && locks.contains("....lock"), "dot names live inside the locks directory: \(locks)")
    }

    func testHostileJSONBodiesAreRefused() throws {
        let token = harness.token
        func post(_ path: String, _ body: [UInt8], headers: [(String, String)] = []) throws -> RawHTTPClient.Response {
            try harness.controlClient().request("POST", path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")] + headers, body: body)
        }
        try underAttack("hostile JSON") {
            let cases: [(String, [UInt8], Set<Int>)] = [
                ("30k nested arrays", Array((String(repeating: "[", count: 30_000) + String(repeating: "]", count: 30_000)).utf8), [400]),
                ("10k nested objects", Array((String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)).utf8), [400]),
                ("unclosed nesting", Array(String(repeating: "[", count: 60_000).utf8), [400]),
                ("body over the limit", Array(("{\"holder\":\"" + String(repeating: "h", count: 70_000) + "\"}").utf8), [413]),
                ("holder of 60 KB", Array(("{\"holder\":\"" + String(repeating: "h", count: 60_000) + "\",\"ttl_seconds\":5}").utf8), [400]),
                ("5,000 members", Array(("{" + (0..<5000).map { "\"m\($0)\":\($0)" }.joined(separator: ",") + "}").utf8), [400]),
                ("duplicate members", Array(#"{"holder":"a","holder":"b","ttl_seconds":5,"ttl_seconds":1e309}"#.utf8), [400]),
                ("huge number", Array(("{\"holder\":\"h\",\"ttl_seconds\":1" + String(repeating: "0", count: 5000) + "}").utf8), [400]),
                ("NaN-like number", Array(#"{"holder":"h","ttl_seconds":NaN}"#.utf8), [400]),
                ("invalid UTF-8", [0x7B, 0x22, 0x68, 0x6F, 0x6C, 0x64, 0x65, 0x72, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D], [400]),
                ("UTF-16 body", Array("{\"holder\":\"h\"}".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }), [400]),
                ("lone surrogate escape", Array(#"{"holder":"\ud800","ttl_seconds":5}"#.utf8), [400]),
                ("NUL escape in holder", Array(#"{"holder":"a\u0000b","ttl_seconds":5}"#.utf8), [400]),
                ("BOM then JSON", [0xEF, 0xBB, 0xBF] + Array(#"{"holder":"h","ttl_seconds":5}"#.utf8), [200, 400]),
                ("trailing garbage", Array(#"{"holder":"h","ttl_seconds":5} {"#.utf8), [400]),
            ]
            for (name, body, statuses) in cases {
                let response = try post("/v1/locks/json-attack", body)
                XCTAssertTrue(statuses.contains(response.status), "\(name): \(response.status) \(response.text.prefix(200))")
                if response.status == 200, let lease = response.json["lease_id"] as? String {
                    _ = try harness.controlClient().request("DELETE", "/v1/locks/json-attack?lease_id=\(lease)", bearer: token)
                }
            }
            let key = try post("/v1/keys", Array(("{\"public_key\":" + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000) + "}").utf8))
            XCTAssertEqual(key.status, 400, key.text)
            let jwk = try post("/v1/keys", Array(#"{"public_key":{"kty":"EC","crv":"P-256","x":"\#(String(repeating: "A", count: 40_000))","y":"AA"},"not_after":"2030-01-01T00:00:00Z","server_id":"s"}"#.utf8))
            XCTAssertTrue([400, 422].contains(jwk.status), jwk.text)
            var badHeader = Array("GET /v1/keys HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ".utf8) + [0xFF, 0xC0, 0xAF] + Array("\r\n\r\n".utf8)
            let client = try harness.controlClient()
            try client.sendRaw(badHeader)
            XCTAssertTrue([400, 401].contains(try client.readResponse().status), "invalid UTF-8 in a token")
            badHeader = Array("GET /.well-known/jwks.json HTTP/1.1\r\nHost: \u{e9}\r\nX-Request-Id: ".utf8) + [0xFE, 0xFF] + Array("\r\n\r\n".utf8)
            let publicClient = try harness.publicClient()
            try publicClient.sendRaw(badHeader)
            XCTAssertTrue([200, 400].contains(try publicClient.readResponse().status), "invalid UTF-8 in a request id")
        }
        XCTAssertEqual(try harness.control("GET", "/v1/locks/json-attack").json["held"] as? Bool ?? false, false)
    }
}
