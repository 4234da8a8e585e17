import Testing
@testable import GRPC

struct GRPCMessageReaderTests {
    @Test func messagesSplitAcrossChunksComeOutWhole() throws {
        var reader = GRPCMessageReader(maxMessageBytes: 16)
        let wire = GRPCMessageReader.frame([1, 2, 3]) + GRPCMessageReader.frame([]) + GRPCMessageReader.frame([9])
        var messages: [[UInt8]] = []
        for byte in wire {
            messages += try [byte].withUnsafeBytes { try reader.append($0) }
        }
        #expect(messages == [[1, 2, 3], [], [9]])
        #expect(!reader.isMidMessage)
    }

    @Test func oversizedMessageIsRefusedFromItsPrefix() {
        var reader = GRPCMessageReader(maxMessageBytes: 16)
        let prefix: [UInt8] = [0, 0, 0, 0, 17]
        #expect(throws: GRPCStatus(.resourceExhausted, "message of 17 bytes exceeds the limit of 16")) {
            _ = try prefix.withUnsafeBytes { try reader.append($0) }
        }
    }

    @Test func compressedMessageWithoutEncodingIsRefused() {
        var reader = GRPCMessageReader(maxMessageBytes: 16)
        let wire: [UInt8] = [1, 0, 0, 0, 1, 7]
        #expect(throws: GRPCStatus.self) { _ = try wire.withUnsafeBytes { try reader.append($0) } }
    }
}
