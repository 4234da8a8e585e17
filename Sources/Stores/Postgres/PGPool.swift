import Core
import Dispatch
import Foundation
import Synchronization

/// A set of connections handed out for exclusive use. Connections are opened lazily; when
/// all `maxSize` are busy a caller waits for one. Up to `maxIdle` returned connections are
/// kept for reuse and closed after `idleTimeout` unused, so a burst opens sessions once
/// instead of once per use, and a quiet sidecar gives them back to the server.
///
/// A connection that broke, or comes back inside a transaction, is closed instead of kept,
/// and a broken one also makes the pool drop its idle connections: after a server restart
/// they are all dead, and the next caller should get a fresh one rather than fail on a stale
/// one.
///
/// Checking out an idle connection and checking it in are synchronous (a lock, no task
/// hop): the lease path runs them for every lock acquire and release.
final class PGPool: Sendable {
    private struct Idle {
        let connection: PGConnection
        let since: UInt64
    }

    private struct State {
        var idle: [Idle] = []
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    private enum Next {
        case ready(PGConnection)
        case connect
        case wait
    }

    private let settings: PGSettings
    private let maxSize: Int
    private let maxIdle: Int
    private let idleTimeoutNanoseconds: UInt64
    private let label: String
    private let state = Mutex(State())
    // nonisolated(unsafe): a Dispatch source is thread-safe; Dispatch does not say so in types.
    nonisolated(unsafe) private let reaper: DispatchSourceTimer

    /// `maxSize` nil: unbounded (lease connections: one per held lease).
    init(settings: PGSettings, maxSize: Int?, maxIdle: Int, idleTimeout: Duration = .seconds(60), label: String) {
        self.settings = settings
        self.maxSize = maxSize ?? Int.max
        self.maxIdle = maxIdle
        idleTimeoutNanoseconds = UInt64(max(idleTimeout, .milliseconds(10)).timeInterval * 1e9)
        self.label = label
        reaper = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "keycoord.pg.\(label).reaper"))
        let interval = DispatchTimeInterval.nanoseconds(Int(min(idleTimeoutNanoseconds / 2, UInt64(Int.max))))
        reaper.schedule(deadline: .now() + interval, repeating: interval, leeway: interval)
        reaper.setEventHandler { [weak self] in self?.closeExpired() }
        reaper.resume()
    }

    deinit {
        reaper.cancel()
    }

    /// Hands out a connection for exclusive use; give it back with `checkin`.
    func checkout() async throws -> PGConnection {
        while true {
            let next = try state.withLock { state -> Next in
                if state.closed { throw PGError.connectionLost("the PostgreSQL store is closed") }
                if let entry = state.idle.popLast() { return .ready(entry.connection) }
                if state.open < maxSize {
                    state.open += 1
                    return .connect
                }
                return .wait
            }
            switch next {
            case .ready(let connection):
                return connection
            case .connect:
                do {
                    return try await PGConnection.connect(settings, label: label)
                } catch {
                    let waiter = state.withLock { state in
                        state.open -= 1
                        return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
                    }
                    waiter?.resume()
                    throw error
                }
            case .wait:
                await withCheckedContinuation { continuation in
                    // Re-checked under the lock: a checkin between the decision and here
                    // must not be missed.
                    let proceed = state.withLock { state in
                        if state.closed || !state.idle.isEmpty || state.open < maxSize { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if proceed { continuation.resume() }
                }
            }
        }
    }

    /// Returns a connection. `broken` (the caller saw it fail) or a connection not idle is
    /// closed; a broken one also flushes the idle list.
    func checkin(_ connection: PGConnection, broken: Bool = false) {
        let reusable = !broken && connection.isIdle
        let (close, waiter) = state.withLock { state -> ([PGConnection], CheckedContinuation<Void, Never>?) in
            var close: [PGConnection] = []
            if reusable, !state.closed, state.idle.count < maxIdle {
                state.idle.append(Idle(connection: connection, since: Self.now()))
            } else {
                state.open -= 1
                close.append(connection)
                if broken {
                    close += state.idle.map(\.connection)
                    state.open -= state.idle.count
                    state.idle.removeAll()
                }
            }
            return (close, state.waiters.isEmpty ? nil : state.waiters.removeFirst())
        }
        close.forEach { $0.closeInBackground() }
        waiter?.resume()
    }

    /// Runs `body` with a connection; if it fails and the connection broke, the pool drops it.
    func withConnection<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        let connection = try await checkout()
        do {
            let value = try await body(connection)
            checkin(connection)
            return value
        } catch {
            checkin(connection, broken: !connection.isConnected)
            throw error
        }
    }

    /// Idle connections right now (for tests and metrics).
    var idleCount: Int { state.withLock { $0.idle.count } }

    func close() async {
        reaper.cancel()
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle.removeAll()
                state.waiters.removeAll()
            }
            return (state.idle.map(\.connection), state.waiters)
        }
        for connection in idle { await connection.close() }
        waiters.forEach { $0.resume() }
    }

    /// Closes idle connections unused for `idleTimeout`.
    private func closeExpired() {
        let now = Self.now()
        let expired = state.withLock { state -> [PGConnection] in
            let cutoff = now > idleTimeoutNanoseconds ? now - idleTimeoutNanoseconds : 0
            let old = state.idle.filter { $0.since <= cutoff }
            guard !old.isEmpty else { return [] }
            state.idle.removeAll { $0.since <= cutoff }
            state.open -= old.count
            return old.map(\.connection)
        }
        expired.forEach { $0.closeInBackground() }
    }

    private static func now() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }
}
