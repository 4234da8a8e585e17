@testable import Service
import Testing

/// The SPIFFE ID patterns of `control-allow-spiffe-id` and `admin-spiffe-id`.
@Suite struct SPIFFEIDPatternTests {
    @Test(arguments: ["spiffe://example.org/spire/server", "spiffe://example.org/spire/server/*", "spiffe://example.org/*/x"])
    func parses(_ text: String) {
        #expect(SPIFFEIDPattern(text) != nil, "\(text)")
    }

    @Test(arguments: ["", "https://example.org/x", "spiffe://example.org", "spiffe://example.org/", "spiffe:///x",
                      "spiffe://example.org//x", "spiffe://example.org/x/", "spiffe://*.org/x", "spiffe://example.org/a*",
                      "spiffe://example.org/x?q", "spiffe://example.org/x#f"])
    func refuses(_ text: String) {
        #expect(SPIFFEIDPattern(text) == nil, "\(text)")
    }

    @Test func aStarIsExactlyOneWholeSegment() throws {
        let pattern = try #require(SPIFFEIDPattern("spiffe://example.org/spire/server/*"))
        #expect(pattern.matches("spiffe://example.org/spire/server/node-1"))
        #expect(pattern.matches("spiffe://EXAMPLE.org/spire/server/node-1"), "trust domains compare case-insensitively")
        #expect(!pattern.matches("spiffe://example.org/spire/server"))
        #expect(!pattern.matches("spiffe://example.org/spire/server/node-1/deeper"))
        #expect(!pattern.matches("spiffe://other.org/spire/server/node-1"))
        #expect(!pattern.matches("spiffe://example.org/spire/Server/node-1"), "paths compare exactly")
    }

    @Test func anExactPatternMatchesOnlyItself() throws {
        let pattern = try #require(SPIFFEIDPattern("spiffe://example.org/ops/admin"))
        #expect(pattern.matches("spiffe://example.org/ops/admin"))
        #expect(!pattern.matches("spiffe://example.org/ops/admin2"))
        #expect(!pattern.matches("spiffe://example.org/ops"))
        #expect(!pattern.matches("not a spiffe id"))
    }
}
