import HTTPTypes
import JSON

/// RFC 9457 problem details, the body of every error the server (and the API) produces:
/// `{"type":"https://keycoord.dev/problems/<slug>","title":…,"status":…,"detail":…}`.
public enum Problem {
    /// The base of every problem type URI.
    public static let typeBase = "https://keycoord.dev/problems/"

    /// A response with an `application/problem+json` body; `extra` adds string members.
    public static func response(status: HTTPResponse.Status, type slug: String, title: String, detail: String,
                                extra: [String: String] = [:]) -> HTTPServerResponse {
        var json = "{\"type\":" + JSONText.quoted(typeBase + slug)
        json += ",\"title\":" + JSONText.quoted(title)
        json += ",\"status\":" + String(status.code)
        json += ",\"detail\":" + JSONText.quoted(detail)
        for key in extra.keys.sorted() {
            json += "," + JSONText.quoted(key) + ":" + JSONText.quoted(extra[key] ?? "")
        }
        json += "}"
        var fields = HTTPFields()
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return HTTPServerResponse(status: status, headerFields: fields, body: Array(json.utf8))
    }
}
