import Foundation

/// What a command's answer looks like as a table.
enum ClientView {
    /// FIELD/VALUE lines of one object (a key, a lease, a lock's status, an ensure answer).
    case record
    /// One row per element of the answer's `field` array.
    case list(field: String, columns: [TableRenderer.Column])

    static let keys = ClientView.list(field: "keys", columns: [
        .init(title: "KID", field: "kid"), .init(title: "TYPE", field: "key_type"), .init(title: "STATE", field: "state"),
        .init(title: "TAINTED", field: "tainted"), .init(title: "ACTIVATED", field: "activated_at"),
        .init(title: "NOT AFTER", field: "not_after"), .init(title: "BACKEND", field: "backend"),
        .init(title: "CREATED BY", field: "created_by"), .init(title: "TAINT REASON", field: "taint_reason"),
    ])

    static let jwks = ClientView.list(field: "keys", columns: [
        .init(title: "KID", field: "kid"), .init(title: "KTY", field: "kty"), .init(title: "ALG", field: "alg"),
        .init(title: "CRV", field: "crv"), .init(title: "USE", field: "use"),
    ])

    /// Members first in this order when a record is shown; the rest follow by name.
    static let recordOrder = ["kid", "name", "held", "holder", "lease_id", "fencing_token", "key_type", "alg", "state",
                              "tainted", "taint_reason", "backend", "backend_ref", "activated_at", "not_after", "expires_at"]

    func print(_ response: ControlClient.Response, format: OutputFormat) {
        let json = try? JSONSerialization.jsonObject(with: Data(response.body))
        guard format == .table, let json else {
            if !response.body.isEmpty { Swift.print(response.text, terminator: response.text.hasSuffix("\n") ? "" : "\n") }
            return
        }
        guard (200..<300).contains(response.status) else {
            FileHandle.standardError.write(Data(TableRenderer.problem(json, status: response.status).utf8))
            return
        }
        switch self {
        case .record:
            Swift.print(TableRenderer.record(json, order: Self.recordOrder), terminator: "")
        case .list(let field, let columns):
            Swift.print(TableRenderer.list(json, field: field, columns: columns) ?? TableRenderer.record(json, order: Self.recordOrder),
                        terminator: "")
        }
    }
}
