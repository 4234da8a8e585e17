import Foundation

/// Renders control-API answers as aligned text for a terminal. A list answer (an object
/// holding an array of objects) becomes one row per element with the named columns; any
/// other object becomes FIELD/VALUE lines, nested objects flattened as `parent.child`.
/// Long values (PEM public keys) are shortened: `--output json` has them whole.
enum TableRenderer {
    struct Column {
        let title: String
        let field: String
    }

    static let maxCell = 100

    /// Rows of `json[listField]` under `columns`, or nil when the answer has no such list.
    static func list(_ json: Any, field listField: String, columns: [Column]) -> String? {
        guard let object = json as? [String: Any], let rows = object[listField] as? [[String: Any]] else { return nil }
        let cells = rows.map { row in columns.map { cell(row[$0.field]) } }
        var text = render([columns.map(\.title)] + cells)
        if rows.isEmpty { text += "(none)\n" }
        return text
    }

    /// FIELD/VALUE lines of an object, in the server's member order when it is known.
    static func record(_ json: Any, order: [String] = []) -> String {
        guard let object = json as? [String: Any] else { return cell(json) + "\n" }
        var lines: [[String]] = []
        flatten(object, prefix: "", order: order, into: &lines)
        return render([["FIELD", "VALUE"]] + lines)
    }

    /// `title: detail` of a problem+json answer, for standard error.
    static func problem(_ json: Any, status: Int) -> String {
        guard let object = json as? [String: Any], let title = object["title"] as? String else { return "error: HTTP \(status)\n" }
        let detail = (object["detail"] as? String).map { ": \($0)" } ?? ""
        return "error: \(title) (HTTP \(status))\(detail)\n"
    }

    private static func flatten(_ object: [String: Any], prefix: String, order: [String], into lines: inout [[String]]) {
        let keys = order.filter { object[$0] != nil } + object.keys.filter { !order.contains($0) }.sorted()
        for key in keys {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let nested = object[key] as? [String: Any] {
                flatten(nested, prefix: name, order: order, into: &lines)
            } else {
                lines.append([name, cell(object[key])])
            }
        }
    }

    static func cell(_ value: Any?) -> String {
        let text: String
        switch value {
        case nil, is NSNull: text = "-"
        case let string as String: text = string
        case let number as NSNumber:
            // JSONSerialization's booleans are numbers whose objCType is "c".
            text = String(cString: number.objCType) == "c" ? (number.boolValue ? "yes" : "no") : number.stringValue
        case let array as [Any]: text = array.map { cell($0) }.joined(separator: ",")
        default: text = "\(value!)"
        }
        let oneLine = text.replacingOccurrences(of: "\n", with: " ")
        return oneLine.count > maxCell ? String(oneLine.prefix(maxCell - 1)) + "…" : oneLine
    }

    private static func render(_ rows: [[String]]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        let widths = (0..<width).map { column in rows.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, value in
                index == row.count - 1 ? value : value.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
