import Foundation

/// A bounded set of connections for ordinary statements. Connections are opened lazily;
/// when all `maxSize` are busy a caller waits for one. A connection that broke, or comes back
/// inside a transaction, is closed instead of reused, and a broken one also makes the pool drop
/// its idle connections: after a server restart they are all dead, and the next caller should
/// get a fresh one rather than fail on a stale one.
actor PGPool {
    private let settings: PGSettings
    private let maxSize: Int
    private let maxIdle: Int
    private let label: String
    private var idle: [PGConnection] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var closed = false

    /// `maxSize` nil: unbounded (lease connections: one per held lease); `maxIdle` connections
    /// are kept open for reuse.
    init(settings: PGSettings, maxSize: Int?, maxIdle: Int, label: String) {
        self.settings = settings
        self.maxSize = maxSize ?? Int.max
        self.maxIdle = maxIdle
        self.label = label
    }

    /// Hands out a connection for exclusive use; give it back with `checkin`.
    func checkout() async throws -> PGConnection {
        while true {
            if closed { throw PGError.connectionLost("the PostgreSQL store is closed") }
            if let connection = idle.popLast() { return connection }
            if open < maxSize {
                open += 1
                do {
                    return try await PGConnection.connect(settings, label: label)
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// Returns a connection. `broken` (the caller saw it fail) or a connection not idle is
    /// closed; a broken one also flushes the idle list.
    func checkin(_ connection: PGConnection, broken: Bool = false) async {
        let reusable = !broken && !closed && idle.count < maxIdle
        if reusable, await connection.isIdle {
            idle.append(connection)
        } else {
            open -= 1
            await connection.close()
            if broken { await dropIdle() }
        }
        wakeOne()
    }

    /// Runs `body` with a connection; if it fails and the connection broke, the pool drops it.
    func withConnection<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        let connection = try await checkout()
        do {
            let value = try await body(connection)
            await checkin(connection)
            return value
        } catch {
            await checkin(connection, broken: !(await connection.isConnected))
            throw error
        }
    }

    func close() async {
        closed = true
        await dropIdle()
        let pending = waiters
        waiters.removeAll()
        pending.forEach { $0.resume() }
    }

    private func dropIdle() async {
        let stale = idle
        idle.removeAll()
        open -= stale.count
        for connection in stale { await connection.close() }
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}
