import Foundation

/// The client credentials grant of Entra ID (`POST {authority}/{tenant}/oauth2/v2.0/token`)
/// with a client secret, or with a client assertion read from a file on every fetch
/// (workload identity: the kubelet rotates the projected service account token, so the
/// file's current content is what Entra ID accepts).
struct AzureEntraTokenSource: AzureTokenSource {
    enum Secret: Sendable {
        case clientSecret(String)
        case assertionFile(String)
    }

    let authority: URL
    let tenantID: String
    let clientID: String
    let secret: Secret
    let http: HTTPClient

    var name: String {
        switch secret {
        case .clientSecret: return "client secret of \(clientID) in tenant \(tenantID) (AZURE_CLIENT_SECRET)"
        case .assertionFile(let path): return "workload identity \(clientID) in tenant \(tenantID) (AZURE_FEDERATED_TOKEN_FILE \(path))"
        }
    }

    func fetch(scope: String) async throws -> AzureAccessToken {
        var fields = [("grant_type", "client_credentials"), ("client_id", clientID), ("scope", scope)]
        switch secret {
        case .clientSecret(let value):
            fields.append(("client_secret", value))
        case .assertionFile(let path):
            guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 16 else {
                throw AzureCredentialError("the federated token file \(path) cannot be read")
            }
            let assertion = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !assertion.isEmpty else { throw AzureCredentialError("the federated token file \(path) is empty") }
            fields += [("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                       ("client_assertion", assertion)]
        }
        let url = authority.appendingPathComponent(tenantID).appendingPathComponent("oauth2/v2.0/token")
        let response = try await http.send(HTTPClientRequest(method: "POST", url: url, headers: [
            ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json"),
        ], body: GCPForm.encode(fields)))
        guard response.isSuccess else { throw AzureServiceError.from(response, operation: "Entra ID token") }
        return try AzureAccessToken.parse(response, from: "Entra ID", now: Date())
    }
}
