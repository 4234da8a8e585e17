/// Splits a request body into gRPC's length-prefixed messages (a compressed-flag byte and a
/// big-endian 32-bit length before each), however the DATA frames cut them.
struct GRPCMessageReader {
    let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var offset = 0

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// True when a message has begun and not ended: the body ended mid-message.
    var isMidMessage: Bool { offset < buffer.count }

    /// Takes `bytes` and returns the messages now complete; throws the status the call ends
    /// with on a compressed message (none was negotiated) or one over `maxMessageBytes`,
    /// before buffering its body.
    mutating func append(_ bytes: UnsafeRawBufferPointer) throws(GRPCStatus) -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var messages: [[UInt8]] = []
        while buffer.count - offset >= 5 {
            let flag = buffer[offset]
            let length = Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16
                | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4])
            guard flag == 0 else {
                throw GRPCStatus(.internal, flag == 1 ? "compressed message, but no grpc-encoding was negotiated"
                                                      : "invalid message flag \(flag)")
            }
            guard length <= maxMessageBytes else {
                throw GRPCStatus(.resourceExhausted, "message of \(length) bytes exceeds the limit of \(maxMessageBytes)")
            }
            guard buffer.count - offset - 5 >= length else { break }
            messages.append(Array(buffer[(offset + 5)..<(offset + 5 + length)]))
            offset += 5 + length
        }
        if offset == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            offset = 0
        }
        return messages
    }

    /// One message in wire form.
    static func frame(_ message: [UInt8]) -> [UInt8] {
        let length = UInt32(message.count)
        var framed: [UInt8] = []
        framed.reserveCapacity(5 + message.count)
        framed += [0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        framed += message
        return framed
    }
}
