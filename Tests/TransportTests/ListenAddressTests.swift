import Testing
import Transport

struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:8080", ListenAddress.tcp(host: "127.0.0.1", port: 8080)),
        ("[::1]:8080", .tcp(host: "::1", port: 8080)),
        (":8080", .tcp(host: "0.0.0.0", port: 8080)),
        ("localhost:0", .tcp(host: "localhost", port: 0)),
        ("unix:/tmp/k.sock", .unix(path: "/tmp/k.sock")),
    ])
    func parsesListenAddresses(text: String, expected: ListenAddress) throws {
        #expect(try ListenAddress(parsing: text) == expected)
        #expect(try ListenAddress(parsing: expected.description) == expected)
    }

    @Test(arguments: ["127.0.0.1", "::1:80", "[::1]", "host.example:80", "1.2.3.4:65536", "1.2.3.4:x", "unix:"])
    func refusesBadListenAddresses(_ text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }
}
