import COpenSSL

/// A failure inside the crypto layer, with OpenSSL's own reason where there is one.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    /// Builds an error from `context` and drains OpenSSL's thread-local error queue, so a
    /// stale reason never leaks into the next failure report.
    static func openSSL(_ context: String) -> CryptoError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return CryptoError(reasons.isEmpty ? context : "\(context): \(reasons.joined(separator: "; "))")
    }

    public var description: String { message }
}
