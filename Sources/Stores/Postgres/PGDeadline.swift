import Core
import Dispatch
import Foundation
import Synchronization

/// Bounds how long a caller waits for an operation whose libpq call cannot be interrupted
/// (a TCP connect to an unreachable host, a stalled server). The operation keeps running on
/// its connection's queue; the caller gets `PGError.connectionLost` at the deadline.
enum PGDeadline {
    static func run<T: Sendable>(within limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = Mutex<CheckedContinuation<T, Error>?>(nil)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            once.withLock { $0 = continuation }
            let finish: @Sendable (Result<T, Error>) -> Void = { result in
                once.withLock { pending in
                    defer { pending = nil }
                    return pending
                }?.resume(with: result)
            }
            Task {
                do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + limit.timeInterval) {
                finish(.failure(PGError.connectionLost("no answer from PostgreSQL within \(limit)")))
            }
        }
    }
}
