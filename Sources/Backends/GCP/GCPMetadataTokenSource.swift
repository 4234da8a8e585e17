import Foundation

/// Tokens of the instance's service account from the GCE/GKE metadata server
/// (`Metadata-Flavor: Google`); `GCE_METADATA_HOST` overrides the host as in Google's libraries.
struct GCPMetadataTokenSource: GCPTokenSource {
    let name: String
    let url: URL
    let http: HTTPClient
    /// The metadata server answers fast or not at all; off GCP this bounds the wait.
    let timeout: TimeInterval

    static let defaultHost = "metadata.google.internal"

    init(environment: [String: String], http: HTTPClient, timeout: TimeInterval = 3) throws {
        let host = environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultHost
        guard let url = URL(string: "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token") else {
            throw GCPCredentialError("GCE_METADATA_HOST \(host) is not a host[:port]")
        }
        self.name = "metadata server \(host)"
        self.url = url
        self.http = http
        self.timeout = timeout
    }

    func fetch() async throws -> GCPAccessToken {
        let now = Date()
        let response = try await http.send(HTTPClientRequest(method: "GET", url: url, headers: [("Metadata-Flavor", "Google")]),
                                           timeout: timeout)
        guard response.isSuccess else { throw GCPServiceError.from(response, operation: "token from \(name)") }
        return try GCPAccessToken.parse(response, from: name, now: now)
    }
}
