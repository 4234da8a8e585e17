import HTTP
import HTTPTypes
import Synchronization

/// Shape checks for identifiers that come from requests and end up in logs, records and
/// file or lock names.
enum Validate {
    /// Holders and server ids: 1–200 printable ASCII characters, no spaces or quotes.
    static func identifier(_ value: String, field: String) throws -> String {
        let ok = value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        guard ok, (1...200).contains(value.utf8.count) else {
            throw APIError.badRequest("\(field) must be 1 to 200 printable ASCII characters without spaces or quotes")
        }
        return value
    }

    /// A kid as keycoord produces them (hex or base64url), at most 128 characters.
    static func isKid(_ value: String) -> Bool {
        (1...128).contains(value.utf8.count) && value.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
}

/// The request id of a request: the caller's `X-Request-Id` when it is a sane token,
/// else a fresh one; echoed in the response and the audit log.
enum RequestID {
    static func of(_ request: HTTPServerRequest) -> String {
        if let given = request.headerFields[.requestID], (1...64).contains(given.utf8.count),
           given.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
        {
            return given
        }
        // A correlation id, not a secret: unique within the process (a counter through an
        // odd multiplier is a bijection) and across processes (a random offset), with no
        // random-number call per request.
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let hex = String((offset &+ count) &* 0x9E37_79B9_7F4A_7C15, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    private static let offset = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)
}
