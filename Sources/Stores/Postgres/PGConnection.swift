import Dispatch
import EventIO
import Foundation
import Synchronization

/// An async face on one libpq connection, used by one task at a time (a pool hands it out
/// exclusively). A statement is sent without blocking and its answer awaited in one of two
/// ways:
/// - on an HTTP event loop (`CurrentReactor.value` is set), the loop watches the socket and
///   the task resumes on the loop: no thread hand-off at all;
/// - anywhere else, the wait blocks the connection's own serial Dispatch queue, never the
///   Swift cooperative pool.
/// Connecting and closing always run on the queue.
///
/// A pool hands a connection to one task at a time, but a lease's session can be reached by
/// two at once (a renew racing the lease's expiry), so every use also passes a gate: one
/// statement at a time, the others wait their turn without blocking a thread.
///
/// `@unchecked Sendable`: statements, connects and closes run only inside the gate, on the
/// caller's thread or on `queue`, each ordered after the previous by the gate's lock; the
/// status reads (`isIdle`, `isConnected`, `backendPID`) read single fields libpq keeps.
final class PGConnection: @unchecked Sendable {
    private let raw: PGRawConnection
    private let queue: DispatchQueue
    private let gate = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    private init(settings: PGSettings, label: String) {
        raw = PGRawConnection(settings: settings)
        queue = DispatchQueue(label: "keycoord.pg.\(label)")
    }

    /// Opens a connection; throws `PGError.connectionLost` when the server cannot be reached.
    static func connect(_ settings: PGSettings, label: String = "connection") async throws -> PGConnection {
        let connection = PGConnection(settings: settings, label: label)
        try await connection.run { try $0.connect() }
        return connection
    }

    /// Runs `body` on the connection's queue with exclusive use of the libpq connection.
    func run<T: Sendable>(_ body: @escaping @Sendable (PGRawConnection) throws -> T) async throws -> T {
        await enter()
        defer { leave() }
        return try await onQueue(body)
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (PGRawConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try body(raw) })
            }
        }
    }

    private func enter() async {
        let free = gate.withLock { gate in
            if gate.busy { return false }
            gate.busy = true
            return true
        }
        if free { return }
        await withCheckedContinuation { continuation in
            let now = gate.withLock { gate in
                if gate.busy {
                    gate.waiters.append(continuation)
                    return false
                }
                gate.busy = true
                return true
            }
            if now { continuation.resume() }
        }
    }

    /// Hands the gate to the next waiter (it stays busy) or opens it.
    private func leave() {
        let next = gate.withLock { gate -> CheckedContinuation<Void, Never>? in
            if gate.waiters.isEmpty {
                gate.busy = false
                return nil
            }
            return gate.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Runs one statement (text parameters, nil is NULL) and returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        try await query(.oneOff(sql), parameters)
    }

    /// Runs one statement, prepared in this session on its first use if it is a named one.
    @discardableResult
    func query(_ statement: PGStatement, _ parameters: [String?] = []) async throws -> PGRows {
        await enter()
        defer { leave() }
        return try await perform(statement, parameters)
    }

    /// Runs the statement only if `stillValid` holds once this caller's turn has come; nil
    /// if not. For a lease's session: the lease may end, and its session go back to the
    /// pool, while the caller waited for its turn.
    func query(_ statement: PGStatement, _ parameters: [String?] = [], onlyIf stillValid: () -> Bool) async throws -> PGRows? {
        await enter()
        defer { leave() }
        guard stillValid() else { return nil }
        return try await perform(statement, parameters)
    }

    /// One statement, inside the gate: through the caller's reactor if it has one.
    private func perform(_ statement: PGStatement, _ parameters: [String?]) async throws -> PGRows {
        guard let reactor = CurrentReactor.value else {
            return try await onQueue { try $0.execute(statement, parameters) }
        }
        try raw.send(statement, parameters)
        // No read before the first wait: the answer is never there yet, and the wait comes
        // back at once if it is.
        while true {
            guard await reactor.readable(raw.socket) else {
                // The loop is shutting down: finish the statement off the loop.
                return try await onQueue { try $0.collectBlocking() }
            }
            if let outcome = raw.collect() { return try outcome.get() }
        }
    }

    /// Reopens a broken connection in place.
    func reconnect() async throws {
        try await run { try $0.connect() }
    }

    /// True while libpq believes the connection usable (a cheap check, not a probe).
    var isConnected: Bool { raw.isConnected }

    /// Connected and outside any transaction: fit to go back to a pool.
    var isIdle: Bool { raw.isIdle }

    var backendPID: Int32 { raw.backendPID }

    func close() async {
        _ = try? await run { $0.close() }
    }

    /// Closes the connection without waiting (a close sends a Terminate message), after any
    /// statement still running on it.
    func closeInBackground() {
        Task.detached { [self] in await close() }
    }
}
