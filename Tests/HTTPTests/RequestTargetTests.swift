import Testing
@testable import HTTP

struct RequestTargetTests {
    static func target(_ text: String) -> RequestTarget? {
        Array(text.utf8).withUnsafeBytes { RequestTarget($0) }
    }

    static func segments(_ text: String) -> [String]? {
        Array(text.utf8).withUnsafeBytes { RequestTarget.pathSegments($0) }
    }

    @Test func decodesPathAndQuery() throws {
        let decoded = try #require(Self.target("/v1/locks/a%20b?lease_id=x%2By&flag&q=a+b&=v"))
        #expect(decoded.path == "/v1/locks/a b")
        #expect(decoded.query == [.init(name: "lease_id", value: "x+y"), .init(name: "flag", value: ""),
                                  .init(name: "q", value: "a b"), .init(name: "", value: "v")])
    }

    @Test func absoluteFormKeepsPathAndQuery() throws {
        let decoded = try #require(Self.target("http://example.com:8080/keys?a=1"))
        #expect(decoded.path == "/keys")
        #expect(decoded.query == [.init(name: "a", value: "1")])
        #expect(Self.target("https://example.com")?.path == "/")
    }

    @Test(arguments: ["/a%2", "/a%zz", "/%ff", "/?a=%c3%28"])
    func refusesBadEscapes(_ text: String) {
        #expect(Self.target(text) == nil)
    }

    @Test func segmentsAreDecodedOneByOne() {
        #expect(Self.segments("/v1/keys/a%2Fb?x=1") == ["v1", "keys", "a/b"])
        #expect(Self.segments("/") == [""])
        #expect(Self.segments("/a/") == ["a", ""])
    }
}
