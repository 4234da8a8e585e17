import Foundation

/// Tokens by workload identity federation (`"type": "external_account"` JSON): a subject
/// token read from a file (GKE, Kubernetes projected tokens) or fetched from a URL, exchanged
/// at the Security Token Service (RFC 8693 token exchange) for a Google access token.
///
/// The file and URL are read again at every exchange, so a rotated subject token is used.
/// Impersonating a service account (`service_account_impersonation_url`) is refused with an
/// explanation: grant the federated principal the Cloud KMS roles directly (docs/gcp.md).
struct GCPExternalAccountTokenSource: GCPTokenSource {
    enum Subject: Sendable {
        case file(String)
        case url(URL, headers: [(String, String)])
    }

    let name: String
    let audience: String
    let subjectTokenType: String
    let tokenURL: URL
    let subject: Subject
    /// For a JSON subject-token answer, the member holding the token; nil for plain text.
    let jsonField: String?
    let scope: String
    let http: HTTPClient

    static let defaultTokenURL = "https://sts.googleapis.com/v1/token"

    init(json: [String: Any], path: String, scope: String, http: HTTPClient) throws {
        guard let audience = json["audience"] as? String, !audience.isEmpty,
              let tokenType = json["subject_token_type"] as? String, !tokenType.isEmpty else {
            throw GCPCredentialError("external-account file \(path) needs audience and subject_token_type")
        }
        if json["service_account_impersonation_url"] != nil {
            throw GCPCredentialError("external-account file \(path) asks for service-account impersonation, which keycoord "
                + "does not do; grant the federated principal the Cloud KMS permissions directly (see docs/gcp.md)")
        }
        let token = json["token_url"] as? String ?? Self.defaultTokenURL
        guard let tokenURL = URL(string: token), tokenURL.scheme == "https" || tokenURL.scheme == "http" else {
            throw GCPCredentialError("external-account file \(path) has an unusable token_url \(token)")
        }
        guard let source = json["credential_source"] as? [String: Any] else {
            throw GCPCredentialError("external-account file \(path) has no credential_source")
        }
        if let file = source["file"] as? String, !file.isEmpty {
            subject = .file(file)
        } else if let url = source["url"] as? String, let parsed = URL(string: url) {
            let headers = (source["headers"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            subject = .url(parsed, headers: headers)
        } else {
            throw GCPCredentialError("external-account file \(path): only file and url credential sources are supported "
                + "(not executable or AWS environment sources)")
        }
        if let format = source["format"] as? [String: Any], (format["type"] as? String) == "json" {
            guard let field = format["subject_token_field_name"] as? String, !field.isEmpty else {
                throw GCPCredentialError("external-account file \(path): a json format needs subject_token_field_name")
            }
            jsonField = field
        } else {
            jsonField = nil
        }
        self.name = "workload identity federation (\(audience)) from \(path)"
        self.audience = audience
        self.subjectTokenType = tokenType
        self.tokenURL = tokenURL
        self.scope = scope
        self.http = http
    }

    func fetch() async throws -> GCPAccessToken {
        let subjectToken = try await readSubjectToken()
        let now = Date()
        let request = HTTPClientRequest(method: "POST", url: tokenURL, headers: [
            ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json"),
        ], body: GCPForm.encode([
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("audience", audience),
            ("scope", scope),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("subject_token", subjectToken),
            ("subject_token_type", subjectTokenType),
        ]))
        // One attempt: the Cloud KMS call that needs the token retries transient failures.
        let response = try await http.send(request)
        guard response.isSuccess else { throw GCPServiceError.from(response, operation: "token exchange at \(tokenURL.absoluteString)") }
        return try GCPAccessToken.parse(response, from: tokenURL.absoluteString, now: now)
    }

    private func readSubjectToken() async throws -> String {
        let raw: [UInt8]
        switch subject {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GCPCredentialError("the subject token file \(path) cannot be read")
            }
            raw = [UInt8](data)
        case .url(let url, let headers):
            let response = try await http.send(HTTPClientRequest(method: "GET", url: url, headers: headers))
            guard response.isSuccess else {
                throw GCPCredentialError("the subject token URL \(HTTPClient.label(url)) answered HTTP \(response.status)")
            }
            raw = response.body
        }
        let text: String
        if let field = jsonField {
            guard let object = try? JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any],
                  let value = object[field] as? String else {
                throw GCPCredentialError("the subject token has no string member \(field)")
            }
            text = value
        } else {
            text = String(decoding: raw, as: UTF8.self)
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw GCPCredentialError("the subject token is empty") }
        return token
    }
}
