/// An allowed SPIFFE ID on the control API, exact or with `*` standing for exactly one
/// whole path segment (`spiffe://example.org/spire/server/*` admits every SPIRE server
/// node of that path, not deeper paths and not other trust domains).
struct SPIFFEIDPattern: Sendable, Equatable {
    let trustDomain: String
    let segments: [String]

    /// Nil unless `text` is `spiffe://<trust domain>/<path>` with no empty segment and `*`
    /// only as a whole path segment (never in the trust domain).
    init?(_ text: String) {
        guard let parsed = Self.split(text), !parsed.trustDomain.contains("*"),
              parsed.segments.allSatisfy({ $0 == "*" || !$0.contains("*") }) else { return nil }
        trustDomain = parsed.trustDomain
        segments = parsed.segments
    }

    /// Whether the SPIFFE ID `id` (from a verified certificate) matches.
    func matches(_ id: String) -> Bool {
        guard let parsed = Self.split(id), parsed.trustDomain == trustDomain, parsed.segments.count == segments.count else {
            return false
        }
        return zip(segments, parsed.segments).allSatisfy { $0 == "*" || $0 == $1 }
    }

    private static func split(_ text: String) -> (trustDomain: String, segments: [String])? {
        guard text.hasPrefix("spiffe://"), !text.contains("?"), !text.contains("#") else { return nil }
        let parts = text.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let domain = parts.first, !domain.isEmpty, parts.count >= 2, parts.dropFirst().allSatisfy({ !$0.isEmpty }) else {
            return nil
        }
        return (domain.lowercased(), Array(parts.dropFirst()))
    }
}
