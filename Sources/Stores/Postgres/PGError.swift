import Foundation

/// A failure of the PostgreSQL driver. `sqlState` is the five-character SQLSTATE the server
/// reported (nil when the failure happened client-side, e.g. the connection broke).
struct PGError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// The server could not be reached or the connection broke; the statement may or
        /// may not have run (it never did when the failure was on connect).
        case connectionLost
        /// The server ran the statement and refused it.
        case server
        /// The result did not have the shape the caller expected.
        case protocolViolation
    }

    var kind: Kind
    var sqlState: String?
    var message: String

    var description: String {
        if let sqlState { return "PostgreSQL error \(sqlState): \(message)" }
        return "PostgreSQL: \(message)"
    }

    static func connectionLost(_ message: String) -> PGError {
        PGError(kind: .connectionLost, sqlState: nil, message: message)
    }

    static func protocolViolation(_ message: String) -> PGError {
        PGError(kind: .protocolViolation, sqlState: nil, message: message)
    }

    /// Serialization failures and deadlocks: the transaction was rolled back and may be retried.
    var isRetryableTransactionFailure: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// SQLSTATE classes that mean the server went away or refuses work for now (admin
    /// shutdown, crash recovery, too many connections), so the store is unavailable rather
    /// than the request being wrong.
    var isUnavailable: Bool {
        if kind == .connectionLost { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState == "53300" || sqlState == "53000"
    }
}
