/// A failure of the AWS client outside the service's own error responses: missing or
/// unusable configuration or credentials, malformed responses. The message says what to fix.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
