/// Why an outbound request produced no HTTP response at all.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No response within the request timeout.
    case timedOut(url: String, seconds: Double)
    /// Connection refused or reset, DNS failure, TLS failure…
    case transport(url: String, reason: String)
    /// The response body exceeded the client's limit.
    case responseTooLarge(url: String, limit: Int)
    /// The caller's task was cancelled.
    case cancelled

    public var description: String {
        switch self {
        case .timedOut(let url, let seconds): return "no response from \(url) within \(seconds)s"
        case .transport(let url, let reason): return "request to \(url) failed: \(reason)"
        case .responseTooLarge(let url, let limit): return "response from \(url) exceeds \(limit) bytes"
        case .cancelled: return "request cancelled"
        }
    }
}
