import Foundation
import Testing
@testable import Backends

@Suite struct CloudRetryPolicyTests {
    struct Transient: Error {}
    struct Permanent: Error {}

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    }

    @Test func fullJitterStaysUnderTheExponentialCap() {
        let top = RetryPolicy(baseDelay: 0.1, maxDelay: 1, random: { 0.999999 })
        #expect(abs(top.backoff(beforeRetry: 1) - 0.1) < 1e-3)
        #expect(abs(top.backoff(beforeRetry: 3) - 0.4) < 1e-3)
        #expect(abs(top.backoff(beforeRetry: 10) - 1) < 1e-3)
        #expect(abs(top.backoff(beforeRetry: 500) - 1) < 1e-3)
        #expect(RetryPolicy(baseDelay: 0.1, maxDelay: 1, random: { 0 }).backoff(beforeRetry: 4) == 0)
        let real = RetryPolicy(baseDelay: 0.1, maxDelay: 1)
        let samples = (0..<200).map { _ in real.backoff(beforeRetry: 3) }
        #expect(samples.allSatisfy { $0 >= 0 && $0 <= 0.4 })
        #expect(Set(samples).count > 100) // jittered, not a fixed schedule
    }

    @Test func retriesTransientFailuresUntilSuccess() async throws {
        let counter = Counter()
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: 0.01, maxDelay: 0.02, deadline: 120, attemptTimeout: 1)
        var timeouts: [TimeInterval] = []
        let result = try await policy.run(isRetryable: { $0 is Transient }) { attempt, timeout in
            timeouts.append(timeout)
            if counter.next() < 3 { throw Transient() }
            return attempt
        }
        #expect(result == 3)
        #expect(timeouts.allSatisfy { $0 <= 1 && $0 > 0 })
    }

    @Test func stopsOnPermanentErrorsAttemptsAndDeadline() async throws {
        // A deadline far beyond the few milliseconds of waiting: only the attempt limit can stop this one.
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.02, deadline: 120, attemptTimeout: 1)
        let permanent = Counter()
        await #expect(throws: Permanent.self) {
            try await policy.run(isRetryable: { $0 is Transient }) { _, _ -> Int in _ = permanent.next(); throw Permanent() }
        }
        #expect(permanent.count == 1)

        let exhausted = Counter()
        await #expect { try await policy.run(isRetryable: { _ in true }) { _, _ -> Int in _ = exhausted.next(); throw Transient() } }
            throws: { ($0 as? RetryExhaustedError)?.reason == .attempts && ($0 as? RetryExhaustedError)?.attempts == 4 }
        #expect(exhausted.count == 4)

        let slow = RetryPolicy(maxAttempts: 100, baseDelay: 0.2, maxDelay: 0.2, deadline: 1, attemptTimeout: 5, random: { 0.99 })
        let start = ContinuousClock.now
        var lastTimeout = 10.0
        await #expect { try await slow.run(isRetryable: { _ in true }) { _, timeout -> Int in lastTimeout = timeout; throw Transient() } }
            throws: { ($0 as? RetryExhaustedError)?.reason == .deadline }
        #expect(ContinuousClock.now - start < .seconds(30)) // loose: the machine is loaded
        #expect(lastTimeout <= 1)
    }

    @Test func classifiesAWSFailures() {
        func service(_ status: Int, _ code: String) -> AWSServiceError {
            AWSServiceError(service: "KMS", operation: "Sign", status: status, code: code, message: "m")
        }
        #expect(CloudRetry.isRetryable(service(400, "ThrottlingException")))
        #expect(CloudRetry.isRetryable(service(400, "com.amazonaws.kms#ThrottlingException")))
        #expect(CloudRetry.isRetryable(service(429, "Whatever")))
        #expect(CloudRetry.isRetryable(service(400, "RequestLimitExceeded")))
        #expect(CloudRetry.isRetryable(service(500, "KMSInternalException")))
        #expect(CloudRetry.isRetryable(service(503, "DependencyTimeoutException")))
        #expect(!CloudRetry.isRetryable(service(400, "LimitExceededException")))
        #expect(!CloudRetry.isRetryable(service(400, "AccessDeniedException")))
        #expect(!CloudRetry.isRetryable(service(400, "NotFoundException")))
        #expect(CloudRetry.isRetryable(HTTPClientError.timedOut(url: "u", seconds: 1)))
        #expect(CloudRetry.isRetryable(HTTPClientError.transport(url: "u", reason: "reset")))
        #expect(!CloudRetry.isRetryable(HTTPClientError.cancelled))
        #expect(service(400, "NotFoundException:http://internal.amazon.com/").code == "NotFoundException")
    }
}
