import Core

/// Session-level advisory locks need the same server session for the life of a lease; a
/// pooler in transaction (or statement) mode hands each transaction to any server
/// connection, so a lease would silently not be held. Two signals, both cheap and
/// deterministic for a direct connection:
/// 1. The backend pid libpq received at connect time (BackendKeyData) must equal
///    `pg_backend_pid()`. PgBouncer sends its own key data (a pooler has to, to route cancel
///    requests itself), so this catches it even when it happens to keep us on one server
///    connection.
/// 2. `pg_backend_pid()` must not change between two statements outside a transaction.
/// Any mismatch refuses to start. This also refuses session-mode poolers, which would keep
/// locks correctly: the client cannot tell the modes apart reliably, and keycoord needs few
/// connections, so it should connect to PostgreSQL directly.
enum PGPoolerCheck {
    static func verify(_ connection: PGConnection) async throws {
        let announced = connection.backendPID
        let first = try await connection.query("SELECT pg_backend_pid() AS pid").int64(0, "pid")
        let second = try await connection.query("SELECT pg_backend_pid() AS pid").int64(0, "pid")
        guard first == second, first == Int64(announced) else {
            throw CoordinationError.storeUnavailable(
                "keycoord is connected through a connection pooler (backend pid \(announced) announced, "
                    + "\(first) then \(second) reported); advisory-lock leases need one server session each, "
                    + "which a transaction-mode pooler such as PgBouncer does not keep. "
                    + "Point keycoord at PostgreSQL directly.")
        }
    }
}
