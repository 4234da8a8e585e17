import Testing
@testable import HTTP

struct ChunkedBodyDecoderTests {
    /// Decodes `text`, fed in pieces of `step` bytes; returns body, bytes used, completeness.
    static func decode(_ text: String, step: Int = Int.max, maxBody: Int = 65536) throws(HTTPParseError) -> (body: String, used: Int, complete: Bool) {
        var decoder = ChunkedBodyDecoder(maxBodyBytes: maxBody, maxTrailerBytes: 1024)
        var body: [UInt8] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count && !decoder.isComplete {
            let end = min(bytes.count, offset &+ step)
            var failure: HTTPParseError?
            var used = 0
            bytes[offset..<end].withUnsafeBytes { raw in
                do throws(HTTPParseError) { used = try decoder.decode(raw, into: &body) } catch { failure = error }
            }
            if let failure { throw failure }
            offset += used
            if used == 0 { break }
        }
        return (String(decoding: body, as: UTF8.self), offset, decoder.isComplete)
    }

    @Test(arguments: [1, 2, 3, 7, Int.max])
    func decodesChunksInAnySplit(step: Int) throws {
        let result = try Self.decode("5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nGET", step: step)
        #expect(result.body == "hello, world")
        #expect(result.complete)
        #expect(result.used == 45)
    }

    @Test func acceptsUppercaseHexAndEmptyBody() throws {
        #expect(try Self.decode("A\r\n0123456789\r\n0\r\n\r\n").body == "0123456789")
        #expect(try Self.decode("0\r\n\r\n").complete)
    }

    @Test(arguments: [
        ("x\r\n", HTTPParseError.invalidChunkSize),
        ("\r\n", HTTPParseError.invalidChunkSize),
        ("-1\r\n", HTTPParseError.invalidChunkSize),
        ("5\nhello\r\n0\r\n\r\n", HTTPParseError.invalidChunkSize),
        ("5\r\nhelloX\r\n", HTTPParseError.invalidChunkFraming),
        ("5\r\nhello\n0\r\n\r\n", HTTPParseError.invalidChunkFraming),
        ("5\rX", HTTPParseError.invalidChunkFraming),
        ("1000000000000000\r\n", HTTPParseError.chunkSizeOverflow),
        ("ffffffffffffffffffff\r\n", HTTPParseError.chunkSizeOverflow),
        ("10001\r\n", HTTPParseError.bodyTooLarge),
        ("0\r\n folded: x\r\n\r\n", HTTPParseError.invalidChunkFraming),
        ("0\r\nX: a\u{0}\r\n\r\n", HTTPParseError.invalidChunkFraming),
        ("1;a\u{0}b\r\n", HTTPParseError.invalidChunkFraming),
    ])
    func refuses(input: String, error: HTTPParseError) {
        #expect(throws: error) { try Self.decode(input) }
    }

    @Test func bodyLimitCountsAcrossChunks() {
        #expect(throws: HTTPParseError.bodyTooLarge) { try Self.decode("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", maxBody: 5) }
    }
}
