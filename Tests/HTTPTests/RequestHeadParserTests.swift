import Testing
@testable import HTTP

/// Table-driven checks of the request head parser: every refusal the issue lists, and the
/// forms that must be accepted.
struct RequestHeadParserTests {
    static let limits = RequestHeadParser.Limits(maxRequestLineBytes: 8192, maxHeaderBytes: 16384,
                                                 maxHeaderCount: 100, maxBodyBytes: 65536)

    /// Parses `text` as one head; returns the head and used byte count, nil if incomplete.
    static func parse(_ text: String, limits: RequestHeadParser.Limits = limits) throws(HTTPParseError) -> (RequestHead, Int)? {
        var parser = RequestHeadParser(limits: limits)
        var head = RequestHead()
        let bytes = Array(text.utf8)
        var result: Int?
        var failure: HTTPParseError?
        bytes.withUnsafeBytes { raw in
            do throws(HTTPParseError) { result = try parser.parse(raw, into: &head) } catch { failure = error }
        }
        if let failure { throw failure }
        return result.map { (head, $0) }
    }

    struct Rejection: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        let error: HTTPParseError
        var testDescription: String { name }
    }

    static let rejections: [Rejection] = [
        .init(name: "invalid method token", request: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidMethod),
        .init(name: "empty method", request: " / HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidMethod),
        .init(name: "tab after method", request: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidMethod),
        .init(name: "two spaces after method", request: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "target with control byte", request: "GET /a\u{01}b HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "target with fragment", request: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "relative target", request: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "asterisk on GET", request: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "authority-form", request: "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "non-ASCII target", request: "GET /\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "missing version", request: "GET /\r\nHost: a\r\n\r\n", error: .invalidTarget),
        .init(name: "lowercase version", request: "GET / http/1.1\r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "version with trailing space", request: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "two-digit version", request: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", error: .invalidVersion),
        .init(name: "HTTP/2.0", request: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        .init(name: "HTTP/0.9", request: "GET / HTTP/0.9\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        .init(name: "missing Host on 1.1", request: "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", error: .missingHost),
        .init(name: "repeated Host", request: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", error: .repeatedHost),
        .init(name: "repeated Host on 1.0", request: "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", error: .repeatedHost),
        .init(name: "LF-only line endings", request: "GET / HTTP/1.1\nHost: a\n\n", error: .invalidLineEnding),
        .init(name: "LF-only header line", request: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", error: .invalidLineEnding),
        .init(name: "LF-only final line", request: "GET / HTTP/1.1\r\nHost: a\r\n\n", error: .invalidLineEnding),
        .init(name: "bare CR in header value", request: "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", error: .invalidLineEnding),
        .init(name: "bare CR in request line", request: "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidLineEnding),
        .init(name: "obs-fold", request: "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n  z\r\n\r\n", error: .obsoleteLineFolding),
        .init(name: "whitespace before colon", request: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", error: .whitespaceBeforeColon),
        .init(name: "tab before colon", request: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", error: .whitespaceBeforeColon),
        .init(name: "empty field name", request: "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", error: .invalidHeaderName),
        .init(name: "field name with slash", request: "GET / HTTP/1.1\r\nHost: a\r\nX/Y: b\r\n\r\n", error: .invalidHeaderName),
        .init(name: "field without colon", request: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", error: .invalidHeaderName),
        .init(name: "NUL in value", request: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", error: .invalidHeaderValue),
        .init(name: "control byte in value", request: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1b}b\r\n\r\n", error: .invalidHeaderValue),
        .init(name: "DEL in value", request: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7f}b\r\n\r\n", error: .invalidHeaderValue),
        .init(name: "Content-Length with Transfer-Encoding",
              request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
              error: .contentLengthWithTransferEncoding),
        .init(name: "repeated Content-Length", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
              error: .repeatedContentLength),
        .init(name: "Content-Length list", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", error: .invalidContentLength),
        .init(name: "non-numeric Content-Length", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\n", error: .invalidContentLength),
        .init(name: "signed Content-Length", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", error: .invalidContentLength),
        .init(name: "empty Content-Length", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", error: .invalidContentLength),
        .init(name: "overflowing Content-Length", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
              error: .invalidContentLength),
        .init(name: "gzip transfer coding", request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", error: .unsupportedTransferCoding),
        .init(name: "chunked not final", request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
              error: .unsupportedTransferCoding),
        .init(name: "gzip then chunked", request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
              error: .unsupportedTransferCoding),
        .init(name: "chunked twice", request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
              error: .invalidTransferCoding),
        .init(name: "empty Transfer-Encoding", request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", error: .invalidTransferCoding),
        .init(name: "Transfer-Encoding on HTTP/1.0", request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
              error: .transferEncodingInHTTP10),
        .init(name: "body over the limit", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", error: .bodyTooLarge),
        .init(name: "unknown expectation", request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", error: .unsupportedExpectation),
        .init(name: "request line too long", request: "GET /" + String(repeating: "a", count: 8200) + " HTTP/1.1\r\nHost: a\r\n\r\n",
              error: .requestLineTooLong),
        .init(name: "header section too large", request: "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 16400) + "\r\n\r\n",
              error: .headersTooLarge),
        .init(name: "too many fields", request: "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: 100) + "\r\n",
              error: .tooManyHeaders),
    ]

    @Test(arguments: rejections)
    func refuses(_ case: Rejection) {
        #expect(throws: `case`.error) { try Self.parse(`case`.request) }
    }

    static let oversizedIncompleteHeads: [Rejection] = [
        .init(name: "request line too long", request: "GET /" + String(repeating: "a", count: 9000), error: .requestLineTooLong),
        .init(name: "headers too large", request: "GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 17000), error: .headersTooLarge),
    ]

    @Test(arguments: oversizedIncompleteHeads)
    func refusesOversizedIncompleteHeads(_ case: Rejection) {
        #expect(throws: `case`.error) { try Self.parse(`case`.request) }
    }

    @Test func refusesBadRequestLineBeforeHeadersComplete() {
        #expect(throws: HTTPParseError.invalidMethod) { try Self.parse("G@T / HTTP/1.1\r\nHost: a\r\n") }
    }

    @Test func simpleGet() throws {
        let text = "GET /keys?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\nNEXT"
        let (head, used) = try #require(try Self.parse(text))
        #expect(used == text.utf8.count - 4)
        #expect(head.method == 0..<3)
        #expect(head.target == 4..<13)
        #expect(head.versionMinor == 1)
        #expect(head.fields.count == 2)
        #expect(head.framing == .none)
        #expect(head.keepAlive)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\n", "incomplete head"),
        ("GET / HTTP/1.1\r\nHost: a\r\n\r", "final CR without LF"),
        ("GET / HTT", "partial request line"),
        ("", "nothing"),
        ("\r\n", "only an empty line"),
    ])
    func needsMoreBytes(request: String, name: String) throws {
        #expect(try Self.parse(request) == nil)
    }

    struct Accepted: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        let framing: RequestHead.BodyFraming
        let keepAlive: Bool
        var expectContinue = false
        var testDescription: String { name }
    }

    static let accepted: [Accepted] = [
        .init(name: "HTTP/1.0 without Host", request: "GET / HTTP/1.0\r\n\r\n", framing: .none, keepAlive: false),
        .init(name: "HTTP/1.0 keep-alive", request: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "HTTP/1.1 close", request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", framing: .none, keepAlive: false),
        .init(name: "HTTP/1.1 higher minor", request: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "leading empty lines", request: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "content length", request: "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 12\r\n\r\n", framing: .contentLength(12), keepAlive: true),
        .init(name: "zero content length", request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "chunked, any case", request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChunKed\r\n\r\n", framing: .chunked, keepAlive: true),
        .init(name: "expect continue", request: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
              framing: .contentLength(1), keepAlive: true, expectContinue: true),
        .init(name: "expect ignored on 1.0", request: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
              framing: .contentLength(1), keepAlive: false),
        .init(name: "absolute-form target", request: "GET http://a/keys HTTP/1.1\r\nHost: a\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "asterisk-form OPTIONS", request: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "empty value and OWS", request: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "obs-text in value", request: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9}\r\n\r\n", framing: .none, keepAlive: true),
        .init(name: "unknown method token", request: "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", framing: .none, keepAlive: true),
    ]

    @Test(arguments: accepted)
    func accepts(_ case: Accepted) throws {
        let (head, used) = try #require(try Self.parse(`case`.request))
        #expect(used == `case`.request.utf8.count)
        #expect(head.framing == `case`.framing)
        #expect(head.keepAlive == `case`.keepAlive)
        #expect(head.expectContinue == `case`.expectContinue)
    }

    @Test func trimsFieldValues() throws {
        let text = "GET / HTTP/1.1\r\nHost:  example.com \t\r\n\r\n"
        let (head, _) = try #require(try Self.parse(text))
        let bytes = Array(text.utf8)
        let field = try #require(head.fields.first)
        #expect(String(decoding: bytes[field.value], as: UTF8.self) == "example.com")
        #expect(String(decoding: bytes[field.name], as: UTF8.self) == "Host")
    }

    @Test func incrementalFeedingFindsTheSameHead() throws {
        let text = Array("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".utf8)
        var parser = RequestHeadParser(limits: Self.limits)
        var head = RequestHead()
        var used: Int?
        for end in 1...text.count where used == nil {
            used = try text[0..<end].withUnsafeBytes { try parser.parse($0, into: &head) }
        }
        #expect(used == text.count - 5)
        #expect(head.framing == .contentLength(5))
    }
}
