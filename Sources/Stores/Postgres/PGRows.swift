import Foundation

/// The rows of one statement's result, copied out of libpq's `PGresult` (text format) so the
/// result can cross threads and the `PGresult` is freed at once.
struct PGRows: Sendable {
    var columns: [String]
    var rows: [[String?]]
    /// Rows the command touched (`PQcmdTuples`): INSERT/UPDATE/DELETE counts.
    var affected: Int

    var count: Int { rows.count }

    func column(_ name: String) throws -> Int {
        guard let index = columns.firstIndex(of: name) else {
            throw PGError.protocolViolation("result has no column \(name)")
        }
        return index
    }

    func optionalString(_ row: Int, _ name: String) throws -> String? {
        guard row >= 0, row < rows.count else { throw PGError.protocolViolation("result has no row \(row)") }
        return rows[row][try column(name)]
    }

    func string(_ row: Int, _ name: String) throws -> String {
        guard let value = try optionalString(row, name) else {
            throw PGError.protocolViolation("column \(name) is NULL")
        }
        return value
    }

    func int64(_ row: Int, _ name: String) throws -> Int64 {
        guard let value = try optionalInt64(row, name) else { throw PGError.protocolViolation("column \(name) is NULL") }
        return value
    }

    func optionalInt64(_ row: Int, _ name: String) throws -> Int64? {
        guard let text = try optionalString(row, name) else { return nil }
        guard let value = Int64(text) else { throw PGError.protocolViolation("column \(name) is not an integer: \(text)") }
        return value
    }

    func double(_ row: Int, _ name: String) throws -> Double {
        guard let value = try optionalDouble(row, name) else { throw PGError.protocolViolation("column \(name) is NULL") }
        return value
    }

    func optionalDouble(_ row: Int, _ name: String) throws -> Double? {
        guard let text = try optionalString(row, name) else { return nil }
        guard let value = Double(text) else { throw PGError.protocolViolation("column \(name) is not a number: \(text)") }
        return value
    }

    /// PostgreSQL's text form of boolean is `t` / `f`.
    func bool(_ row: Int, _ name: String) throws -> Bool {
        switch try string(row, name) {
        case "t": return true
        case "f": return false
        case let other: throw PGError.protocolViolation("column \(name) is not a boolean: \(other)")
        }
    }
}
