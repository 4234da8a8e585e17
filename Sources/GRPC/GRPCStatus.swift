/// A gRPC status (the `grpc-status` and `grpc-message` trailers): what a method throws to
/// end its call with something other than OK.
public struct GRPCStatus: Error, Sendable, Equatable, CustomStringConvertible {
    /// The codes of gRPC's status table, with their wire numbers.
    public enum Code: Int, Sendable {
        case ok = 0
        case cancelled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code) (\(code.rawValue)): \(message)" }

    /// The trailer fields that carry this status; `grpc-message` percent-encoded as the
    /// protocol requires (bytes outside printable ASCII, and "%").
    var trailerFields: [(name: String, value: String)] {
        var fields = [(name: "grpc-status", value: String(code.rawValue))]
        if !message.isEmpty { fields.append((name: "grpc-message", value: Self.percentEncoded(message))) }
        return fields
    }

    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
