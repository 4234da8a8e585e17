import Foundation

/// A managed identity's token from the instance metadata service (IMDS), which answers
/// only requests carrying `Metadata: true` (a guard against server-side request forgery).
/// `AZURE_CLIENT_ID` picks a user-assigned identity.
struct AzureManagedIdentityTokenSource: AzureTokenSource {
    let endpoint: URL
    let clientID: String?
    let http: HTTPClient

    var name: String { "managed identity\(clientID.map { " \($0)" } ?? "") (IMDS \(HTTPClient.label(endpoint)))" }

    func fetch(scope: String) async throws -> AzureAccessToken {
        // IMDS takes a resource, not a scope.
        let resource = scope.hasSuffix("/.default") ? String(scope.dropLast("/.default".count)) : scope
        var components = URLComponents(url: endpoint.appendingPathComponent("metadata/identity/oauth2/token"),
                                       resolvingAgainstBaseURL: false)
        components?.queryItems = [URLQueryItem(name: "api-version", value: "2018-02-01"), URLQueryItem(name: "resource", value: resource)]
            + (clientID.map { [URLQueryItem(name: "client_id", value: $0)] } ?? [])
        guard let url = components?.url else { throw AzureCredentialError("cannot build the IMDS URL", kind: .invalid) }
        let response = try await http.send(HTTPClientRequest(method: "GET", url: url, headers: [("Metadata", "true")]), timeout: 5)
        guard response.isSuccess else { throw AzureServiceError.from(response, operation: "IMDS token") }
        return try AzureAccessToken.parse(response, from: "IMDS", now: Date())
    }
}
