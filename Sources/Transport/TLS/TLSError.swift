import Crypto

/// Why a TLS context could not be built from its files; the message names the file and
/// carries OpenSSL's reason.
public struct TLSError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ message: String) {
        description = message
    }

    /// `message` plus the reasons on OpenSSL's error queue of this thread, which it empties.
    static func openSSL(_ message: String) -> TLSError {
        TLSError(OpenSSLErrors.describe(message))
    }
}
