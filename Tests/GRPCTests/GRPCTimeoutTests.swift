import Testing
@testable import GRPC

struct GRPCTimeoutTests {
    @Test(arguments: [("1S", Duration.seconds(1)), ("250m", .milliseconds(250)), ("2H", .seconds(7200)),
                      ("99999999n", .nanoseconds(99_999_999))])
    func parsesTimeouts(text: String, expected: Duration) {
        #expect(GRPCTimeout.parse(text) == expected)
    }

    @Test(arguments: ["", "S", "1", "123456789S", "1x", "-1S"])
    func refusesMalformedTimeouts(_ text: String) {
        #expect(GRPCTimeout.parse(text) == nil)
    }
}
