import Foundation

/// Where the Azure backend keeps keys and how it reaches Key Vault and Entra ID.
public struct AzureKeyVaultConfig: Sendable {
    /// The vault (`https://NAME.vault.azure.net`, a sovereign cloud's vault domain) or a
    /// Managed HSM (`https://NAME.managedhsm.azure.net`). Key references are built on it.
    public var vaultURL: String
    /// The key name of each mint: letters, digits, `-` and the placeholders
    /// `{trust_domain}` (`.` and `_` become `-`, cut so the name fits) and `{key_type}`.
    /// keycoord appends `-` and 12 random hex digits, so every mint has a name of its own.
    public var keyNameTemplate: String
    /// Where requests go instead of `vaultURL` (a private endpoint's address, tests); the
    /// references keep naming `vaultURL`.
    public var endpoint: String?
    /// Mint `EC-HSM`/`RSA-HSM` keys (a Premium vault); Managed HSM always gets them.
    public var hsm: Bool
    /// Purge a key after its soft delete when the vault allows it (no purge protection);
    /// needs the purge permission. False: deleted keys stay recoverable for the vault's
    /// retention period.
    public var purgeDeleted: Bool
    /// Entra ID authority; nil: `AZURE_AUTHORITY_HOST`, else `https://login.microsoftonline.com`.
    public var authorityHost: String?
    /// The managed identity endpoint; nil: IMDS at `http://169.254.169.254`.
    public var managedIdentityEndpoint: String?
    /// PEM certificates to trust besides the system's, for every HTTPS call of the backend.
    public var caFile: String?
    public var requestTimeout: TimeInterval
    public var callDeadline: TimeInterval
    public var maxAttempts: Int
    /// How long a key found usable stays so without asking Key Vault again.
    public var usableCacheSeconds: TimeInterval
    var retryBaseDelay: TimeInterval = 0.1
    var retryMaxDelay: TimeInterval = 5

    public static let defaultKeyNameTemplate = "keycoord-{trust_domain}-{key_type}"
    public static let defaultAuthorityHost = "https://login.microsoftonline.com"
    public static let defaultManagedIdentityEndpoint = "http://169.254.169.254"

    public init(vaultURL: String, keyNameTemplate: String? = nil, endpoint: String? = nil, hsm: Bool = false,
                purgeDeleted: Bool = false, authorityHost: String? = nil, managedIdentityEndpoint: String? = nil,
                caFile: String? = nil, requestTimeout: TimeInterval = 10, callDeadline: TimeInterval = 30,
                maxAttempts: Int = 6, usableCacheSeconds: TimeInterval = 300) {
        self.vaultURL = vaultURL
        self.keyNameTemplate = keyNameTemplate ?? Self.defaultKeyNameTemplate
        self.endpoint = endpoint
        self.hsm = hsm
        self.purgeDeleted = purgeDeleted
        self.authorityHost = authorityHost
        self.managedIdentityEndpoint = managedIdentityEndpoint
        self.caFile = caFile
        self.requestTimeout = requestTimeout
        self.callDeadline = callDeadline
        self.maxAttempts = maxAttempts
        self.usableCacheSeconds = usableCacheSeconds
    }
}
