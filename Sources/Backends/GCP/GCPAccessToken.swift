import Foundation

/// An OAuth2 access token and when it stops working.
struct GCPAccessToken: Sendable, Equatable {
    var value: String
    var expiresAt: Date

    /// Reads the `{"access_token", "expires_in"}` answer every Google token endpoint gives
    /// (OAuth2, STS, metadata server). A token without a lifetime is taken for an hour,
    /// Google's default.
    static func parse(_ response: HTTPClientResponse, from source: String, now: Date) throws -> GCPAccessToken {
        struct Body: Decodable {
            var access_token: String
            var expires_in: Double?
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(response.body)), !body.access_token.isEmpty else {
            throw GCPCredentialError("\(source) answered without an access_token: \(response.bodySnippet)")
        }
        return GCPAccessToken(value: body.access_token, expiresAt: now.addingTimeInterval(max(0, body.expires_in ?? 3600)))
    }
}
