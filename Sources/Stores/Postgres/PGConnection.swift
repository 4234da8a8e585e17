import Dispatch
import EventIO
import Foundation

/// An async face on one libpq connection, used by one task at a time (a pool hands it out
/// exclusively). A statement is sent without blocking and its answer awaited in one of two
/// ways:
/// - on an HTTP event loop (`CurrentReactor.value` is set), the loop watches the socket and
///   the task resumes on the loop: no thread hand-off at all;
/// - anywhere else, the wait blocks the connection's own serial Dispatch queue, never the
///   Swift cooperative pool.
/// Connecting and closing always run on the queue.
///
/// `@unchecked Sendable`: `raw` is used by one caller at a time, on the caller's thread or on
/// `queue`, each use ordered after the previous by the await between them.
final class PGConnection: @unchecked Sendable {
    private let raw: PGRawConnection
    private let queue: DispatchQueue

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
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try body(raw) })
            }
        }
    }

    /// Runs one statement (text parameters, nil is NULL) and returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        guard let reactor = CurrentReactor.value else {
            return try await run { try $0.execute(sql, parameters) }
        }
        try raw.send(sql, parameters)
        // No read before the first wait: the answer is never there yet, and the wait comes
        // back at once if it is.
        while true {
            guard await reactor.readable(raw.socket) else {
                // The loop is shutting down: finish the statement off the loop.
                return try await run { try $0.collectBlocking() }
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

    /// Closes the connection on its queue without waiting (a close sends a Terminate message).
    func closeInBackground() {
        queue.async { [self] in raw.close() }
    }
}
