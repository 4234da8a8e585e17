import Core

/// Which failures of a cloud call are worth another attempt, for every cloud: throttling
/// and faults on the cloud's side, timeouts and transport failures; never a refusal
/// (denied, not found, invalid), which the same request would meet again.
public enum CloudRetry {
    public static func isRetryable(_ error: Error) -> Bool {
        switch error {
        case let error as any CloudServiceError:
            return error.kind == .throttled || error.kind == .unavailable
        case let error as HTTPClientError:
            switch error {
            case .timedOut, .transport: return true
            case .responseTooLarge, .cancelled: return false
            }
        default:
            return false
        }
    }
}
