/// A failure inside the crypto layer, with OpenSSL's own reason where there is one.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    /// Builds an error from `context` and the reasons on OpenSSL's error queue.
    static func openSSL(_ context: String) -> CryptoError {
        CryptoError(OpenSSLErrors.describe(context))
    }

    public var description: String { message }
}
