import CLibPQ
import Foundation

/// One libpq connection, used synchronously. Every call may block on the network, so
/// instances live on a thread of their own (`PGConnection`'s serial queue or the listener's
/// thread) and are never touched from two threads at once.
final class PGRawConnection {
    private var handle: OpaquePointer?
    let settings: PGSettings

    /// `PG_DIAG_SQLSTATE` is a character macro ('C') that Swift does not import.
    private static let diagSQLState = Int32(UInt8(ascii: "C"))

    init(settings: PGSettings) {
        self.settings = settings
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Opens (or reopens) the connection and applies the session defaults.
    func connect() throws {
        close()
        let parameters = settings.connectionParameters()
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        var keywordPointers: [UnsafePointer<CChar>?] = keywords.map { UnsafePointer($0) } + [nil]
        var valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        let connection = keywordPointers.withUnsafeMutableBufferPointer { k in
            valuePointers.withUnsafeMutableBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
        guard let connection else { throw PGError.connectionLost("out of memory creating a PostgreSQL connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PGError.connectionLost("cannot connect to PostgreSQL: \(message)")
        }
        // Server notices (e.g. "relation already exists, skipping") are not errors; libpq
        // would print them to stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
        do {
            // Server-side keepalives: the client's own keepalives only tell the client that the
            // server vanished. For the server to end the session of a sidecar whose host
            // vanished (and so free its advisory locks) it must probe too, and its default is
            // the OS's two hours. These settings are per session and need no privilege.
            try execute(
                """
                SELECT set_config('tcp_keepalives_idle', $2, false), set_config('tcp_keepalives_interval', $3, false),
                       set_config('tcp_keepalives_count', $4, false),
                       CASE WHEN current_setting('statement_timeout') = '0' THEN set_config('statement_timeout', $1, false) END
                """,
                [String(settings.statementTimeoutMilliseconds), String(settings.serverKeepalive.idle),
                 String(settings.serverKeepalive.interval), String(settings.serverKeepalive.count)])
        } catch {
            close()
            throw error
        }
    }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared = []
        awaitingPrepare = nil
        pending = nil
    }

    /// True while libpq believes the connection usable. A broken connection is noticed only
    /// when a call fails, so this is a cheap pre-check, not a probe.
    var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// True when the session is connected and not inside a transaction (safe to hand to
    /// another user).
    var isIdle: Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        return PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// The backend pid libpq learned at connect time (from BackendKeyData). A pooler in
    /// between reports its own value here, not the server process's.
    var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// The socket, for waiting on notifications; -1 when not connected.
    var socket: Int32 {
        guard let handle else { return -1 }
        return PQsocket(handle)
    }

    /// Runs one statement with text-format parameters ($1, $2, …; nil is SQL NULL). SQL is
    /// always a constant of the caller's; values only ever travel as parameters.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> PGRows {
        try execute(.oneOff(sql), parameters)
    }

    /// Runs one statement, preparing it first if it is a named one this session has not
    /// prepared yet.
    @discardableResult
    func execute(_ statement: PGStatement, _ parameters: [String?] = []) throws -> PGRows {
        let handle = try connectedHandle()
        if let name = statement.name, !prepared.contains(name) {
            _ = try Self.finish(PQprepare(handle, name, statement.sql, Int32(parameters.count), nil), on: handle).get()
            prepared.insert(name)
        }
        let result = Self.withParameters(parameters) { values in
            if let name = statement.name {
                PQexecPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
            } else {
                PQexecParams(handle, statement.sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
        }
        return try Self.finish(result, on: handle).get()
    }

    /// Sends one statement without waiting for its answer (the same rules as `execute`);
    /// collect the answer with `collect` once the socket is readable. A named statement's
    /// first use in the session sends its Prepare alone: `collect` sends the execution once
    /// the server has accepted it (one more round trip, once per session).
    func send(_ statement: PGStatement, _ parameters: [String?] = []) throws {
        let handle = try connectedHandle()
        pending = nil
        awaitingPrepare = nil
        if let name = statement.name, !prepared.contains(name) {
            guard PQsendPrepare(handle, name, statement.sql, Int32(parameters.count), nil) == 1 else {
                throw PGError.connectionLost(Self.trimmed(PQerrorMessage(handle)))
            }
            awaitingPrepare = (statement, parameters)
            return
        }
        if let error = Self.sendExecution(statement, parameters, on: handle) { throw error }
    }

    private static func sendExecution(_ statement: PGStatement, _ parameters: [String?], on handle: OpaquePointer) -> PGError? {
        let sent = withParameters(parameters) { values in
            if let name = statement.name {
                PQsendQueryPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
            } else {
                PQsendQueryParams(handle, statement.sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
        }
        return sent == 1 ? nil : PGError.connectionLost(trimmed(PQerrorMessage(handle)))
    }

    /// The outcome of a result `PQexec*`/`PQprepare` returned (nil: libpq ran out of memory or
    /// lost the connection); clears the result.
    private static func finish(_ result: OpaquePointer?, on handle: OpaquePointer) -> Result<PGRows, PGError> {
        guard let result else { return .failure(PGError.connectionLost(trimmed(PQerrorMessage(handle)))) }
        defer { PQclear(result) }
        return outcome(of: result, on: handle)
    }

    /// Reads what has arrived for the statement `send` sent, without blocking: its outcome
    /// once the server has answered completely, nil while more is to come (wait for the
    /// socket to be readable again).
    func collect() -> Result<PGRows, PGError>? {
        guard let handle else { return .failure(PGError.connectionLost("not connected to PostgreSQL")) }
        guard PQconsumeInput(handle) == 1 else {
            return .failure(PGError.connectionLost(Self.trimmed(PQerrorMessage(handle))))
        }
        while PQisBusy(handle) == 0 {
            guard let result = PQgetResult(handle) else {
                let outcome = pending ?? .failure(PGError.connectionLost(Self.trimmed(PQerrorMessage(handle))))
                pending = nil
                guard let (statement, parameters) = awaitingPrepare, let name = statement.name else { return outcome }
                // The Prepare is answered: on success, send the execution and wait for it.
                awaitingPrepare = nil
                if case .failure = outcome { return outcome }
                prepared.insert(name)
                if let error = Self.sendExecution(statement, parameters, on: handle) { return .failure(error) }
                continue
            }
            // One statement yields one result; keep the first (an error, if any, comes first).
            if pending == nil { pending = Self.outcome(of: result, on: handle) }
            PQclear(result)
        }
        return nil
    }

    /// Finishes a statement `send` sent by blocking on the socket: for callers no reactor
    /// serves.
    func collectBlocking() throws -> PGRows {
        while true {
            if let outcome = collect() { return try outcome.get() }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, -1) < 0, errno != EINTR {
                throw PGError.connectionLost("waiting for PostgreSQL failed: errno \(errno)")
            }
        }
    }

    /// The answer of a statement `send` sent, being assembled by `collect`.
    private var pending: Result<PGRows, PGError>?

    /// A named statement's first use: its Prepare is in flight, and these parameters go with
    /// the execution `collect` sends once it is answered.
    private var awaitingPrepare: (statement: PGStatement, parameters: [String?])?

    /// The names of the statements prepared in this session; a new session starts with none.
    private var prepared: Set<String> = []

    private func connectedHandle() throws -> OpaquePointer {
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            throw PGError.connectionLost("not connected to PostgreSQL")
        }
        return handle
    }

    private static func withParameters<T>(_ parameters: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        return pointers.withUnsafeMutableBufferPointer { body(UnsafePointer($0.baseAddress)) }
    }

    /// Rows for a successful result, the server's error (with SQLSTATE) otherwise.
    private static func outcome(of result: OpaquePointer, on handle: OpaquePointer) -> Result<PGRows, PGError> {
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
            return .success(copy(result))
        default:
            let sqlState = PQresultErrorField(result, diagSQLState).map { String(cString: $0) }
            let message = trimmed(PQresultErrorMessage(result))
            let lost = PQstatus(handle) != CONNECTION_OK
            return .failure(PGError(kind: lost ? .connectionLost : .server, sqlState: sqlState,
                                    message: message.isEmpty ? trimmed(PQerrorMessage(handle)) : message))
        }
    }

    /// Reads whatever the server sent without blocking; false when the connection broke.
    func consumeInput() -> Bool {
        guard let handle else { return false }
        return PQconsumeInput(handle) == 1 && PQstatus(handle) == CONNECTION_OK
    }

    /// Notifications received so far, in arrival order.
    func takeNotifications() -> [(channel: String, payload: String)] {
        guard let handle else { return [] }
        var received: [(channel: String, payload: String)] = []
        while let notify = PQnotifies(handle) {
            received.append((String(cString: notify.pointee.relname), String(cString: notify.pointee.extra)))
            PQfreemem(notify)
        }
        return received
    }

    private static func copy(_ result: OpaquePointer) -> PGRows {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PGRows(columns: columns, rows: rows, affected: affected)
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
