import Core
import Foundation

/// Retries with exponential backoff and full jitter, bounded by a deadline: the policy the
/// AWS SDKs use (and that GCP and Azure recommend) so that many clients throttled together
/// do not retry in lockstep.
///
/// The deadline bounds the whole call, attempts and waits included; each attempt gets
/// `attemptTimeout`, cut to what remains of the deadline.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The backoff cap before the first retry; it doubles with every further retry.
    public var baseDelay: TimeInterval
    /// The backoff cap never grows past this.
    public var maxDelay: TimeInterval
    /// Time budget for the whole call.
    public var deadline: TimeInterval
    /// Timeout of one attempt.
    public var attemptTimeout: TimeInterval
    /// A uniform random number in [0, 1); replaceable so tests can pin the jitter.
    public var random: @Sendable () -> Double

    public init(maxAttempts: Int = 6, baseDelay: TimeInterval = 0.1, maxDelay: TimeInterval = 5,
                deadline: TimeInterval = 30, attemptTimeout: TimeInterval = 10,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(0, maxDelay)
        self.deadline = max(0.001, deadline)
        self.attemptTimeout = max(0.001, attemptTimeout)
        self.random = random
    }

    /// The wait before retry number `retry` (1 for the first retry): uniform in
    /// [0, min(maxDelay, baseDelay · 2^(retry−1))] ("full jitter").
    public func backoff(beforeRetry retry: Int) -> TimeInterval {
        let exponent = Double(max(0, min(retry - 1, 62)))
        let cap = min(maxDelay, baseDelay * pow(2, exponent))
        return cap * min(max(random(), 0), 1)
    }

    /// Runs `operation` until it succeeds, fails with an error `isRetryable` rejects, runs
    /// out of attempts, or the deadline leaves no time for another try. `operation` gets
    /// the attempt number (from 1) and the timeout to use for it.
    /// `onRetry` hears of each failed attempt about to be retried (attempt, error, wait).
    public func run<T: Sendable>(isRetryable: (Error) -> Bool,
                                 onRetry: (_ attempt: Int, _ error: Error, _ wait: TimeInterval) -> Void = { _, _, _ in },
                                 _ operation: (_ attempt: Int, _ timeout: TimeInterval) async throws -> T) async throws -> T {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start.advanced(by: .seconds(deadline))
        // An attempt with less time than this cannot succeed; giving up beats a hopeless try.
        let minimumAttemptTime = min(attemptTimeout, 0.1)
        var attempt = 0
        var lastError: Error?
        while true {
            let remaining = clock.now.duration(to: end).timeInterval
            if let lastError, remaining < minimumAttemptTime {
                throw RetryExhaustedError(attempts: attempt, elapsed: start.duration(to: clock.now).timeInterval,
                                          reason: .deadline, last: lastError)
            }
            attempt += 1
            do {
                return try await operation(attempt, min(attemptTimeout, max(remaining, minimumAttemptTime)))
            } catch {
                if error is CancellationError || Task.isCancelled { throw error }
                guard isRetryable(error) else { throw error }
                lastError = error
                let elapsed = start.duration(to: clock.now).timeInterval
                guard attempt < maxAttempts else {
                    throw RetryExhaustedError(attempts: attempt, elapsed: elapsed, reason: .attempts, last: error)
                }
                // A wait the service asked for (Retry-After) is honoured; the jitter only adds to it.
                let asked = (error as? any CloudServiceError)?.retryAfter?.timeInterval ?? 0
                let wait = max(backoff(beforeRetry: attempt), asked)
                guard clock.now.duration(to: end).timeInterval >= wait + minimumAttemptTime else {
                    throw RetryExhaustedError(attempts: attempt, elapsed: elapsed, reason: .deadline, last: error)
                }
                onRetry(attempt, error, wait)
                if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            }
        }
    }
}
