import Foundation

/// An Entra ID access token and when it stops working.
struct AzureAccessToken: Sendable, Equatable {
    var value: String
    var expiresAt: Date

    /// Reads `{"access_token", "expires_in"}` (Entra ID: a number; IMDS: a string, with
    /// `expires_on` in Unix seconds). A token without a lifetime is taken for an hour.
    static func parse(_ response: HTTPClientResponse, from source: String, now: Date) throws -> AzureAccessToken {
        guard let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let token = json["access_token"] as? String, !token.isEmpty else {
            throw AzureCredentialError("\(source) answered without an access_token: \(response.bodySnippet)", kind: .failed)
        }
        func number(_ key: String) -> Double? {
            if let value = json[key] as? Double { return value }
            if let value = json[key] as? Int { return Double(value) }
            return (json[key] as? String).flatMap(Double.init)
        }
        let expiresAt = number("expires_in").map { now.addingTimeInterval(max(0, $0)) }
            ?? number("expires_on").map { Date(timeIntervalSince1970: $0) } ?? now.addingTimeInterval(3600)
        return AzureAccessToken(value: token, expiresAt: expiresAt)
    }
}
