import Testing
@testable import GRPC

struct GRPCStatusTests {
    @Test func statusMessagesArePercentEncoded() {
        #expect(GRPCStatus.percentEncoded("no key \"x\" 100%\n") == "no key \"x\" 100%25%0A")
    }

    @Test func trailersCarryCodeAndMessage() {
        let fields = GRPCStatus(.notFound, "gone").trailerFields
        #expect(fields.map(\.name) == ["grpc-status", "grpc-message"])
        #expect(fields.map(\.value) == ["5", "gone"])
        #expect(GRPCStatus(.ok).trailerFields.map(\.name) == ["grpc-status"])
    }
}
