import HTTPTypes

/// RFC 9457 problem details, the body of every error the server (and the API) produces:
/// `{"type":"https://keycoord.dev/problems/<slug>","title":…,"status":…,"detail":…}`.
public enum Problem {
    /// The base of every problem type URI.
    public static let typeBase = "https://keycoord.dev/problems/"

    /// A response with an `application/problem+json` body; `extra` adds string members.
    public static func response(status: HTTPResponse.Status, type slug: String, title: String, detail: String,
                                extra: [String: String] = [:]) -> HTTPServerResponse {
        var json = "{\"type\":" + jsonString(typeBase + slug)
        json += ",\"title\":" + jsonString(title)
        json += ",\"status\":" + String(status.code)
        json += ",\"detail\":" + jsonString(detail)
        for key in extra.keys.sorted() {
            json += "," + jsonString(key) + ":" + jsonString(extra[key] ?? "")
        }
        json += "}"
        var fields = HTTPFields()
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return HTTPServerResponse(status: status, headerFields: fields, body: Array(json.utf8))
    }

    /// A JSON string literal with the escapes RFC 8259 requires.
    static func jsonString(_ value: String) -> String {
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
}
