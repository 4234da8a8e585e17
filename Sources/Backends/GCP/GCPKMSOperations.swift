/// The Cloud KMS operations the GCP backend calls, and nothing more: the seam between the
/// backend's decisions and the wire. `GCPKMSClient` speaks them as REST v1 with an OAuth2
/// bearer token; the tests' in-memory Cloud KMS implements them too.
///
/// Names are full resource names (`projects/P/locations/L/keyRings/R/cryptoKeys/K…`).
/// Errors are `GCPServiceError` for an error answer, `RetryExhaustedError` when retries ran
/// out, `HTTPClientError` when no answer came, `GCPCredentialError` without a token.
protocol GCPKMSOperations: Sendable {
    func getKeyRing(name: String) async throws -> GCPKMSAPI.KeyRing
    func createKeyRing(parent: String, id: String) async throws -> GCPKMSAPI.KeyRing
    func createCryptoKey(keyRing: String, id: String, _ key: GCPKMSAPI.CryptoKey) async throws -> GCPKMSAPI.CryptoKey
    func getCryptoKey(name: String) async throws -> GCPKMSAPI.CryptoKey
    /// One page of the key ring's crypto keys matching `filter` (e.g. `labels.k=v`).
    func listCryptoKeys(keyRing: String, filter: String?, pageToken: String?) async throws -> GCPKMSAPI.ListCryptoKeysResponse
    /// Replaces the key's labels with `labels` (`updateMask=labels`).
    func updateLabels(cryptoKey: String, labels: [String: String]) async throws -> GCPKMSAPI.CryptoKey
    func getVersion(name: String) async throws -> GCPKMSAPI.CryptoKeyVersion
    func getPublicKey(version: String) async throws -> GCPKMSAPI.PublicKey
    func asymmetricSign(version: String, _ request: GCPKMSAPI.AsymmetricSignRequest) async throws -> GCPKMSAPI.AsymmetricSignResponse
    func destroyVersion(name: String) async throws -> GCPKMSAPI.CryptoKeyVersion
}
