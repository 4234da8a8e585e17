import Foundation

/// A retried call that still failed: how many attempts, and the last error.
public struct RetryExhaustedError: Error, CustomStringConvertible {
    public enum Reason: Sendable { case attempts, deadline }

    public let attempts: Int
    public let elapsed: TimeInterval
    public let reason: Reason
    public let last: Error

    public var description: String {
        let why = reason == .attempts ? "after \(attempts) attempts" : "at the deadline after \(attempts) attempts"
        return "gave up \(why) (\(String(format: "%.1f", elapsed))s): \(last)"
    }
}
