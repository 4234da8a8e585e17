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
        try required(optionalString(row, name), name)
    }

    func int64(_ row: Int, _ name: String) throws -> Int64 {
        try required(optionalInt64(row, name), name)
    }

    func optionalInt64(_ row: Int, _ name: String) throws -> Int64? {
        try optional(row, name, "an integer", Int64.init)
    }

    func double(_ row: Int, _ name: String) throws -> Double {
        try required(optionalDouble(row, name), name)
    }

    func optionalDouble(_ row: Int, _ name: String) throws -> Double? {
        try optional(row, name, "a number", Double.init)
    }

    /// A NULL where the schema forbids one means the database is not what keycoord expects.
    private func required<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw PGError.protocolViolation("column \(name) is NULL") }
        return value
    }

    /// A nullable column parsed from its text form.
    private func optional<T>(_ row: Int, _ name: String, _ kind: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = try optionalString(row, name) else { return nil }
        guard let value = parse(text) else { throw PGError.protocolViolation("column \(name) is not \(kind): \(text)") }
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
