import Core
import Foundation

/// An error response from an AWS service: the HTTP status, the error code (`__type` of
/// the JSON protocols, `Code` of the query protocols) and the service's message.
public struct AWSServiceError: CloudServiceError, Equatable {
    public let service: String
    public let operation: String
    public let status: Int
    /// The bare code, e.g. `NotFoundException` (namespace prefixes removed).
    public let code: String
    public let message: String
    public let requestID: String?

    public init(service: String, operation: String, status: Int, code: String, message: String, requestID: String? = nil) {
        self.service = service
        self.operation = operation
        self.status = status
        self.code = Self.bareCode(code)
        self.message = message
        self.requestID = requestID
    }

    /// Codes AWS services use when a caller sends too fast.
    static let throttlingCodes: Set<String> = [
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException", "RequestThrottled",
        "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded", "PriorRequestNotComplete", "EC2ThrottledException", "TransactionInProgressException",
    ]

    /// Codes for a transient fault on the service side.
    static let transientCodes: Set<String> = [
        "KMSInternalException", "DependencyTimeoutException", "InternalFailure", "InternalError", "ServiceUnavailable",
        "RequestTimeout", "RequestTimeoutException", "IDPCommunicationError",
    ]

    public var isThrottling: Bool { status == 429 || Self.throttlingCodes.contains(code) }

    /// Worth retrying: throttling and server-side faults. KMS `LimitExceededException` is
    /// not: it reports a resource quota (keys, aliases), which waiting does not lift.
    public var isRetryable: Bool { kind == .throttled || kind == .unavailable }

    /// True for the codes that mean the credentials or the signature were refused.
    public var isAuthenticationFailure: Bool {
        ["UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature", "ExpiredTokenException",
         "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken", "AuthFailure"].contains(code)
    }

    /// The code in keycoord's terms.
    public var kind: BackendError.Kind {
        if isThrottling { return .throttled }
        if code == "AccessDeniedException" || isAuthenticationFailure { return .denied }
        if code == "NotFoundException" { return .notFound }
        if status >= 500 || Self.transientCodes.contains(code) { return .unavailable }
        return (400..<500).contains(status) ? .invalid : .failed
    }

    public var retryAfter: Duration? { nil }

    public var serviceMessage: String {
        let id = requestID.map { ", request id \($0)" } ?? ""
        return "\(code) (HTTP \(status)\(id)): \(message)"
    }

    public var description: String {
        let id = requestID.map { ", request id \($0)" } ?? ""
        return "\(service) \(operation) failed: \(code) (HTTP \(status)\(id)): \(message)"
    }

    /// `com.amazonaws.kms#NotFoundException` and `NotFoundException:http://…` → `NotFoundException`.
    static func bareCode(_ raw: String) -> String {
        var code = Substring(raw)
        if let hash = code.lastIndex(of: "#") { code = code[code.index(after: hash)...] }
        if let colon = code.firstIndex(of: ":") { code = code[..<colon] }
        return code.trimmingCharacters(in: .whitespaces)
    }
}
