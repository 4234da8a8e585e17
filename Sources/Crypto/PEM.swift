/// PEM armour (RFC 7468) for DER payloads.
public enum PEM {
    public static func encode(_ der: [UInt8], label: String) -> String {
        let body = base64(der)
        var lines = ["-----BEGIN \(label)-----"]
        var index = body.startIndex
        while index < body.endIndex {
            let end = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            lines.append(String(body[index..<end]))
            index = end
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Standard base64 with padding.
    public static func base64(_ data: [UInt8]) -> String {
        var text = Base64URL.encode(data)
        text = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while text.utf8.count % 4 != 0 { text += "=" }
        return text
    }

    /// Decodes standard base64 (padding optional); nil on any character outside the alphabet.
    public static func decodeBase64(_ text: String) -> [UInt8]? {
        var stripped = Substring(text)
        while stripped.hasSuffix("=") { stripped = stripped.dropLast() }
        if stripped.contains("-") || stripped.contains("_") { return nil }
        return Base64URL.decode(String(stripped.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }))
    }
}
