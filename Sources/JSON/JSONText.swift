/// Builds compact JSON text with members in the order given, so documents keycoord
/// serves are byte-for-byte deterministic (Foundation's encoders do not promise an order).
/// The one JSON string escaper of the project: Core's documents, HTTP's problem bodies,
/// the API's responses and the log lines all use it.
public enum JSONText {
    /// A JSON string literal for `value`, escaped per RFC 8259 §7.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// An object from `(name, raw JSON value)` pairs, in order.
    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// An array of strings.
    public static func stringArray(_ values: [String]) -> String {
        "[" + values.map(quoted).joined(separator: ",") + "]"
    }
}
