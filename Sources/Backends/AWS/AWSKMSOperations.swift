/// The KMS operations the AWS backend calls, and nothing more: the seam between the
/// backend's decisions and the wire. `AWSKMSClient` speaks them to KMS (SigV4, JSON 1.1);
/// the tests' in-memory KMS implements them too, so the backend's logic is checked
/// without a server and the server-backed tests check the wire.
///
/// Errors are `AWSServiceError` for an error answer, `RetryExhaustedError` when retries
/// ran out, `HTTPClientError` when no answer came.
protocol AWSKMSOperations: Sendable {
    func createKey(_ request: AWSKMSAPI.CreateKeyRequest) async throws -> AWSKMSAPI.KeyMetadata
    func describeKey(keyID: String) async throws -> AWSKMSAPI.KeyMetadata
    func getPublicKey(keyID: String) async throws -> AWSKMSAPI.GetPublicKeyResponse
    func sign(_ request: AWSKMSAPI.SignRequest) async throws -> AWSKMSAPI.SignResponse
    func tagResource(keyID: String, tags: [AWSKMSAPI.Tag]) async throws
    func listResourceTags(keyID: String, marker: String?) async throws -> AWSKMSAPI.ListResourceTagsResponse
    func createAlias(name: String, targetKeyID: String) async throws
    func updateAlias(name: String, targetKeyID: String) async throws
    func listKeys(marker: String?) async throws -> AWSKMSAPI.ListKeysResponse
    func scheduleKeyDeletion(keyID: String, pendingWindowInDays: Int) async throws
}
