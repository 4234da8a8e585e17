/// The Key Vault operations the Azure backend calls, and nothing more: the seam between
/// the backend's decisions and the wire. `AzureKeyVaultClient` speaks them as REST with an
/// Entra ID bearer token; the tests' in-memory Key Vault implements them too.
///
/// Names match `[0-9a-zA-Z-]{1,127}`; versions are Key Vault's 32 hex digits. Errors are
/// `AzureServiceError` for an error answer, `RetryExhaustedError` when retries ran out,
/// `HTTPClientError` when no answer came, `AzureCredentialError` without a token.
protocol AzureKeyVaultOperations: Sendable {
    /// Creates the key (or a new version of an existing name). Not retried on a lost
    /// answer: the backend looks for the key first.
    func createKey(name: String, _ request: AzureKeyVaultAPI.CreateKeyRequest) async throws -> AzureKeyVaultAPI.KeyBundle
    /// The given version, or the latest when `version` is nil.
    func getKey(name: String, version: String?) async throws -> AzureKeyVaultAPI.KeyBundle
    /// Replaces the version's tags.
    func updateTags(name: String, version: String, tags: [String: String]) async throws -> AzureKeyVaultAPI.KeyBundle
    /// One page of the vault's keys; `nextLink` from the previous page, nil for the first.
    func listKeys(nextLink: String?) async throws -> AzureKeyVaultAPI.KeyListResult
    func sign(name: String, version: String, _ request: AzureKeyVaultAPI.SignRequest) async throws -> AzureKeyVaultAPI.SignResult
    /// Soft delete of every version of the name.
    func deleteKey(name: String) async throws -> AzureKeyVaultAPI.DeletedKeyBundle
    func getDeletedKey(name: String) async throws -> AzureKeyVaultAPI.DeletedKeyBundle
    func purgeDeletedKey(name: String) async throws
}
