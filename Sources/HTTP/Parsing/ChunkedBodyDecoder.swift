/// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1). It consumes what it
/// can of each buffer it is given, appends the chunk data to the body, and validates the
/// framing (size lines, CRLFs, trailer section) strictly.
struct ChunkedBodyDecoder {
    private enum State {
        case size(value: Int, digits: Int)
        case extensions(value: Int)
        case sizeLineFeed(value: Int)
        case data(remaining: Int)
        case dataCarriageReturn
        case dataLineFeed
        case trailerLineStart
        case trailerLine
        case trailerLineFeed(empty: Bool)
        case done
    }

    /// Bytes a chunk-size line (with its extensions) may occupy.
    static let maxSizeLineBytes = 4096

    private var state = State.size(value: 0, digits: 0)
    private var lineBytes = 0
    private var trailerBytes = 0
    let maxBodyBytes: Int
    let maxTrailerBytes: Int

    init(maxBodyBytes: Int, maxTrailerBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Whether the last chunk and the trailer section have been read.
    var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Decodes from `bytes`, appending data to `body`; returns how many bytes were consumed.
    /// Stops right after the end of the message so pipelined bytes stay in the buffer.
    mutating func decode(_ bytes: UnsafeRawBufferPointer, into body: inout [UInt8]) throws(HTTPParseError) -> Int {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            switch state {
            case .size(let value, let digits):
                if let hex = ByteClass.hexValue(byte) {
                    guard digits < 15 else { throw .chunkSizeOverflow }
                    state = .size(value: value << 4 | hex, digits: digits + 1)
                } else {
                    guard digits > 0 else { throw .invalidChunkSize }
                    try endOfSize(value: value, at: byte)
                }
                index += 1
                try countLineByte()
            case .extensions(let value):
                if byte == 0x0D {
                    state = .sizeLineFeed(value: value)
                } else if !ByteClass.fieldValue[Int(byte)] {
                    throw .invalidChunkFraming
                }
                index += 1
                try countLineByte()
            case .sizeLineFeed(let value):
                guard byte == 0x0A else { throw .invalidChunkFraming }
                index += 1
                lineBytes = 0
                if value == 0 {
                    state = .trailerLineStart
                } else {
                    guard value <= maxBodyBytes - body.count else { throw .bodyTooLarge }
                    state = .data(remaining: value)
                }
            case .data(let remaining):
                let take = min(remaining, count - index)
                if let base = bytes.baseAddress {
                    body.append(contentsOf: UnsafeRawBufferPointer(start: base + index, count: take))
                }
                index += take
                state = remaining == take ? .dataCarriageReturn : .data(remaining: remaining - take)
            case .dataCarriageReturn:
                guard byte == 0x0D else { throw .invalidChunkFraming }
                index += 1
                state = .dataLineFeed
            case .dataLineFeed:
                guard byte == 0x0A else { throw .invalidChunkFraming }
                index += 1
                state = .size(value: 0, digits: 0)
            case .trailerLineStart:
                if byte == 0x0D {
                    state = .trailerLineFeed(empty: true)
                } else if byte == 0x20 || byte == 0x09 || !ByteClass.isToken(byte) {
                    throw .invalidChunkFraming
                } else {
                    state = .trailerLine
                }
                index += 1
                try countTrailerByte()
            case .trailerLine:
                if byte == 0x0D {
                    state = .trailerLineFeed(empty: false)
                } else if !ByteClass.fieldValue[Int(byte)] && byte != UInt8(ascii: ":") {
                    throw .invalidChunkFraming
                }
                index += 1
                try countTrailerByte()
            case .trailerLineFeed(let empty):
                guard byte == 0x0A else { throw .invalidChunkFraming }
                index += 1
                if empty {
                    state = .done
                    return index
                }
                state = .trailerLineStart
            case .done:
                return index
            }
        }
        return index
    }

    /// After the hex digits: optional BWS, then ";" extensions or the CR of the line end.
    private mutating func endOfSize(value: Int, at byte: UInt8) throws(HTTPParseError) {
        switch byte {
        case 0x0D: state = .sizeLineFeed(value: value)
        case UInt8(ascii: ";"), 0x20, 0x09: state = .extensions(value: value)
        default: throw .invalidChunkSize
        }
    }

    private mutating func countLineByte() throws(HTTPParseError) {
        lineBytes += 1
        if lineBytes > Self.maxSizeLineBytes { throw .invalidChunkFraming }
    }

    private mutating func countTrailerByte() throws(HTTPParseError) {
        trailerBytes += 1
        if trailerBytes > maxTrailerBytes { throw .headersTooLarge }
    }
}
