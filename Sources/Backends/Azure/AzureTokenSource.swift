/// One way of getting an Entra ID access token for a scope (a client secret, workload
/// identity, a managed identity).
protocol AzureTokenSource: Sendable {
    /// What this source is, for logs and errors.
    var name: String { get }
    /// A token for `scope` (`https://vault.azure.net/.default`).
    func fetch(scope: String) async throws -> AzureAccessToken
}
