import Core
import Foundation

/// The operator's settings for one backend, under the names `keycoord serve` gives them
/// (`keys-dir`, `aws-region`, …), and the one place a backend is built from them: the
/// sidecar and the SPIRE plugin (which signs with the keys the sidecar minted) construct
/// backends alike. Empty strings mean "not set": the backend's own default or the
/// standard environment (AWS_REGION, GOOGLE_APPLICATION_CREDENTIALS, AZURE_CLIENT_ID…).
public struct BackendSettings: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case disk
        case awsKMS = "aws-kms"
        case gcpKMS = "gcp-kms"
        case azureKeyVault = "azure-key-vault"
    }

    public var kind: Kind
    /// The shared keys directory as this process sees it.
    public var keysDir = ""
    public var awsRegion = ""
    public var awsEndpoint = ""
    public var awsProfile = ""
    public var awsAliasTemplate = AWSKMSConfig.defaultAliasTemplate
    public var awsDeletionWindowDays = 30
    public var gcpProject = ""
    public var gcpLocation = "global"
    public var gcpKeyRing = "keycoord"
    public var gcpCreateKeyRing = true
    public var gcpKeyIDTemplate = "keycoord-{trust_domain}-{key_type}"
    public var gcpEndpoint = ""
    public var gcpCredentialsFile = ""
    public var gcpProtectionLevel = "SOFTWARE"
    public var azureVaultURL = ""
    public var azureKeyNameTemplate = "keycoord-{trust_domain}-{key_type}"
    public var azureEndpoint = ""
    public var azureHSM = false
    public var azurePurgeDeleted = false
    public var azureAuthorityHost = ""
    public var azureManagedIdentityEndpoint = ""
    public var azureCAFile = ""

    public init(kind: Kind) {
        self.kind = kind
    }

    /// Builds the backend; `CoordinationError.invalid` when a setting cannot work.
    public func makeBackend() throws -> any KeyBackend {
        func optional(_ text: String) -> String? { text.isEmpty ? nil : text }
        switch kind {
        case .disk:
            return try DiskBackend(directory: keysDir)
        case .awsKMS:
            var aws = AWSKMSConfig()
            aws.region = optional(awsRegion)
            aws.endpoint = optional(awsEndpoint)
            aws.profile = optional(awsProfile)
            aws.aliasTemplate = awsAliasTemplate
            aws.deletionWindowDays = awsDeletionWindowDays
            return try AWSKMSBackend(config: aws)
        case .gcpKMS:
            let gcp = GCPKMSConfig(project: gcpProject, location: gcpLocation, keyRing: gcpKeyRing,
                                   createKeyRing: gcpCreateKeyRing, keyIDTemplate: gcpKeyIDTemplate,
                                   endpoint: optional(gcpEndpoint), credentialsFile: optional(gcpCredentialsFile),
                                   protectionLevel: gcpProtectionLevel)
            return try GCPKMSBackend(config: gcp)
        case .azureKeyVault:
            let azure = AzureKeyVaultConfig(vaultURL: azureVaultURL, keyNameTemplate: azureKeyNameTemplate,
                                            endpoint: optional(azureEndpoint), hsm: azureHSM,
                                            purgeDeleted: azurePurgeDeleted, authorityHost: optional(azureAuthorityHost),
                                            managedIdentityEndpoint: optional(azureManagedIdentityEndpoint),
                                            caFile: optional(azureCAFile))
            return try AzureKeyVaultBackend(config: azure)
        }
    }
}
