import Foundation

/// AWS credentials: an access key pair, a session token for temporary credentials, and
/// when those expire. The description never shows the secret or the token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; nil for long-lived keys.
    public var expiration: Date?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken.flatMap { $0.isEmpty ? nil : $0 }
        self.expiration = expiration
    }

    /// True when the credentials expire within `margin` seconds of `now`.
    public func expires(within margin: TimeInterval, of now: Date = Date()) -> Bool {
        guard let expiration else { return false }
        return expiration.timeIntervalSince(now) <= margin
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secret: <redacted>\(sessionToken == nil ? "" : ", session token: <redacted>"))"
    }

    public var debugDescription: String { description }
}

extension AWSCredentials {
    /// Parses the JSON the ECS container endpoint and EC2 instance metadata return:
    /// `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration` (ISO 8601).
    static func fromMetadataJSON(_ body: [UInt8], source: String) throws -> AWSCredentials {
        struct Document: Decodable {
            var AccessKeyId: String?
            var SecretAccessKey: String?
            var Token: String?
            var Expiration: String?
            var Code: String?
            var Message: String?
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(body)) else {
            throw AWSError("\(source) returned credentials that are not valid JSON")
        }
        if let code = document.Code, code != "Success" {
            throw AWSError("\(source) refused credentials: \(code)\(document.Message.map { ": \($0)" } ?? "")")
        }
        guard let id = document.AccessKeyId, !id.isEmpty, let secret = document.SecretAccessKey, !secret.isEmpty else {
            throw AWSError("\(source) returned credentials without AccessKeyId/SecretAccessKey")
        }
        var expiration: Date?
        if let text = document.Expiration {
            guard let date = parseTimestamp(text) else {
                throw AWSError("\(source) returned an unreadable Expiration")
            }
            expiration = date
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: document.Token, expiration: expiration)
    }

    /// ISO 8601 timestamps as AWS writes them, with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
