import COpenSSL

/// Why a TLS context could not be built from its files; the message names the file and
/// carries OpenSSL's reason.
public struct TLSError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ message: String) {
        description = message
    }

    /// `message` plus the reasons on OpenSSL's error queue of this thread, which it empties.
    static func openSSL(_ message: String) -> TLSError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(reasons.isEmpty ? message : "\(message): \(reasons.joined(separator: "; "))")
    }
}
