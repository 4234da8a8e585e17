/// Which failures of an AWS call are worth another attempt.
enum AWSRetry {
    /// Throttling and server faults, timeouts and transport failures; never client errors.
    static func isRetryable(_ error: Error) -> Bool {
        switch error {
        case let error as AWSServiceError: return error.isRetryable
        case let error as HTTPClientError:
            switch error {
            case .timedOut, .transport: return true
            case .responseTooLarge, .cancelled: return false
            }
        default: return false
        }
    }
}
