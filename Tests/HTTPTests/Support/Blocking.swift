import Foundation

/// Runs blocking socket code on its own thread, so a test waiting in `recv` never occupies a
/// thread of the cooperative pool the server's async handlers need.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
