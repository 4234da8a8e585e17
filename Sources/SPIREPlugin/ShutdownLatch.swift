import Synchronization

/// Opens once, when the host asks the plugin to stop (GRPCController.Shutdown) or the process
/// gets SIGTERM: the long-lived calls (stdio, broker) end and the process exits.
final class ShutdownLatch: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func open() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard !state.open else { return [] }
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the latch is open.
    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
