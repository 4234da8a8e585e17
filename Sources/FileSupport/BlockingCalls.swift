import Foundation

/// Runs calls that may block a thread for long (a `flock` waiting for another process)
/// on a thread of their own. On Linux, Swift's task executor and Dispatch's concurrent
/// queues share one pool about as wide as the CPU count; a few blocked calls there stall
/// every task in the process (timers and sleeps included) until Dispatch's monitor adds
/// threads, seconds later. A thread per call costs microseconds and cannot starve anyone.
public enum BlockingCalls {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
