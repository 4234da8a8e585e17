import Foundation

/// Where the GCP backend keeps keys and how it reaches Cloud KMS.
public struct GCPKMSConfig: Sendable {
    /// Google Cloud project id.
    public var project: String
    /// Cloud KMS location of the key ring (`global`, `us-east1`, `europe`…).
    public var location: String
    /// Key ring id.
    public var keyRing: String
    /// Create the key ring when it does not exist (needs `cloudkms.keyRings.create`).
    /// False: the key ring must exist, so an identity without that permission works and a
    /// typo in the name fails at the first mint instead of creating a stray ring (key rings
    /// can never be deleted).
    public var createKeyRing: Bool
    /// The crypto key id of each minted key: letters, digits, `_`, `-` and the placeholders
    /// `{trust_domain}` (dots become `-`, cut so the id fits) and `{key_type}`. keycoord
    /// appends `-` and 12 random hex digits, so every mint has an id of its own.
    public var keyIDTemplate: String
    /// Cloud KMS endpoint; nil means `https://cloudkms.googleapis.com` (tests and private
    /// endpoints such as `private.googleapis.com` set it).
    public var endpoint: String?
    /// A credentials file used instead of the standard chain (service_account or external_account).
    public var credentialsFile: String?
    /// `SOFTWARE` or `HSM`.
    public var protectionLevel: String
    /// Timeout of one HTTP attempt.
    public var requestTimeout: TimeInterval
    /// Budget of one backend call, retries included.
    public var callDeadline: TimeInterval
    public var maxAttempts: Int
    /// How long a new key version may stay `PENDING_GENERATION` before the mint gives up.
    public var pendingTimeout: TimeInterval
    /// How long a key found usable stays so without asking Cloud KMS again.
    public var usableCacheSeconds: TimeInterval
    /// Overrides the retry jitter and waits (tests shorten them).
    var retryBaseDelay: TimeInterval = 0.1
    var retryMaxDelay: TimeInterval = 5

    public static let defaultEndpoint = "https://cloudkms.googleapis.com"
    public static let defaultKeyIDTemplate = "keycoord-{trust_domain}-{key_type}"

    public init(project: String, location: String = "global", keyRing: String = "keycoord", createKeyRing: Bool = true,
                keyIDTemplate: String? = nil, endpoint: String? = nil, credentialsFile: String? = nil,
                protectionLevel: String = "SOFTWARE", requestTimeout: TimeInterval = 10, callDeadline: TimeInterval = 30,
                maxAttempts: Int = 6, pendingTimeout: TimeInterval = 60, usableCacheSeconds: TimeInterval = 300) {
        self.project = project
        self.location = location
        self.keyRing = keyRing
        self.createKeyRing = createKeyRing
        self.keyIDTemplate = keyIDTemplate ?? Self.defaultKeyIDTemplate
        self.endpoint = endpoint
        self.credentialsFile = credentialsFile
        self.protectionLevel = protectionLevel
        self.requestTimeout = requestTimeout
        self.callDeadline = callDeadline
        self.maxAttempts = maxAttempts
        self.pendingTimeout = pendingTimeout
        self.usableCacheSeconds = usableCacheSeconds
    }
}
