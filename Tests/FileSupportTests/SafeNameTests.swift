import FileSupport
import Testing

/// Trust domain names that become path components.
@Suite struct SafeNameTests {
    @Test(arguments: ["example.org", "td", "a-b_c.example", String(repeating: "a", count: 63) + ".org"])
    func accepts(_ name: String) {
        #expect(SafeName.isTrustDomain(name))
    }

    @Test(arguments: ["", ".", "..", ".example.org", "example.org.", "a..b", "a/b", "../etc", "Example.org",
                      "exa mple", "é.org", String(repeating: "a", count: 64) + ".org",
                      Array(repeating: String(repeating: "a", count: 63), count: 5).joined(separator: ".")])
    func refuses(_ name: String) {
        #expect(!SafeName.isTrustDomain(name), "\(name)")
    }
}
