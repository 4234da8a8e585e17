import Crypto
import Foundation

/// Tokens for a service-account key (`"type": "service_account"` JSON): an RS256-signed
/// JWT `{iss, scope, aud = token_uri, iat, exp}` exchanged at `token_uri` with the JWT
/// bearer grant (RFC 7523), as Google's libraries do.
struct GCPServiceAccountTokenSource: GCPTokenSource {
    let name: String
    let clientEmail: String
    let keyID: String?
    let privateKey: PrivateKey
    let tokenURL: URL
    let scope: String
    let http: HTTPClient

    /// Google's token endpoint, when the key file names none.
    static let defaultTokenURI = "https://oauth2.googleapis.com/token"

    init(json: [String: Any], path: String, scope: String, http: HTTPClient) throws {
        guard let email = json["client_email"] as? String, !email.isEmpty else {
            throw GCPCredentialError("service-account file \(path) has no client_email")
        }
        guard let pem = json["private_key"] as? String, let key = try? PrivateKey(pem: pem), case .rsa = key.algorithm else {
            throw GCPCredentialError("service-account file \(path) has no RSA private_key in PEM")
        }
        let uri = json["token_uri"] as? String ?? Self.defaultTokenURI
        guard let url = URL(string: uri), url.scheme == "https" || url.scheme == "http" else {
            throw GCPCredentialError("service-account file \(path) has an unusable token_uri \(uri)")
        }
        self.name = "service account \(email) from \(path)"
        self.clientEmail = email
        self.keyID = json["private_key_id"] as? String
        self.privateKey = key
        self.tokenURL = url
        self.scope = scope
        self.http = http
    }

    func fetch() async throws -> GCPAccessToken {
        let now = Date()
        let assertion = try self.assertion(issuedAt: now)
        let request = HTTPClientRequest(method: "POST", url: tokenURL, headers: [
            ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json"),
        ], body: GCPForm.encode([("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)]))
        // One attempt: the Cloud KMS call that needs the token retries transient failures.
        let response = try await http.send(request)
        guard response.isSuccess else { throw GCPServiceError.from(response, operation: "token exchange at \(tokenURL.absoluteString)") }
        return try GCPAccessToken.parse(response, from: tokenURL.absoluteString, now: now)
    }

    /// The signed JWT; an hour of validity, the most Google accepts.
    func assertion(issuedAt now: Date) throws -> String {
        var header: [String: String] = ["alg": "RS256", "typ": "JWT"]
        if let keyID { header["kid"] = keyID }
        let iat = Int(now.timeIntervalSince1970)
        let claims: [String: Any] = ["iss": clientEmail, "scope": scope, "aud": tokenURL.absoluteString, "iat": iat, "exp": iat + 3600]
        let encodedHeader = Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let encodedClaims = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let input = "\(encodedHeader).\(encodedClaims)"
        let signature = try privateKey.sign(digest: Digest.sha256(Array(input.utf8)), hash: .sha256)
        return "\(input).\(Base64URL.encode(signature))"
    }
}
