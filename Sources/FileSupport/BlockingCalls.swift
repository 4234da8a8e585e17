import Dispatch

/// Runs calls that may block a thread for long (a `flock` waiting for another process)
/// on Dispatch threads, so they never hold one of the few threads of Swift's cooperative
/// pool, which would stall unrelated tasks on a small machine.
public enum BlockingCalls {
    private static let queue = DispatchQueue(label: "keycoord.blocking-file-calls", attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
