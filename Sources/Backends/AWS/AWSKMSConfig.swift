import Foundation

/// How the AWS KMS backend reaches KMS and labels keys. Everything left nil comes from
/// the standard AWS environment (region, endpoint, profile, credentials).
public struct AWSKMSConfig: Sendable {
    /// Region; nil means `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's region.
    public var region: String?
    /// KMS endpoint URL; nil means `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, then the regional endpoint.
    public var endpoint: String?
    /// Shared-config profile; nil means `AWS_PROFILE`, then `default`.
    public var profile: String?
    /// Explicit credentials, ahead of the whole chain (mainly for tests and tooling).
    public var credentials: AWSCredentials?
    /// The alias pointed at each newly published key. `{trust_domain}` (dots become
    /// underscores: KMS aliases allow only letters, digits, `/`, `_`, `-`) and `{key_type}`.
    public var aliasTemplate: String
    /// `ScheduleKeyDeletion` waiting period, 7–30 days.
    public var deletionWindowDays: Int
    /// Tag keys on every key keycoord creates.
    public var trustDomainTagKey: String
    public var keyTypeTagKey: String
    /// Tag holding `pending` from creation until the key is published, then `published`.
    public var pendingTagKey: String
    public var kidTagKey: String
    /// Timeout of one HTTP attempt.
    public var requestTimeout: TimeInterval
    /// Budget of one backend call, retries included.
    public var callDeadline: TimeInterval
    public var maxAttempts: Int
    /// How long a key found usable stays so without asking KMS again (`checkUsable` runs
    /// on every ensure and readiness probe; KMS request quotas are for minting).
    public var usableCacheSeconds: TimeInterval = 300
    /// Overrides the retry jitter and waits (tests shorten them).
    var retryBaseDelay: TimeInterval = 0.1
    var retryMaxDelay: TimeInterval = 5

    public static let defaultAliasTemplate = "alias/keycoord/{trust_domain}/{key_type}"

    public init(region: String? = nil, endpoint: String? = nil, profile: String? = nil, credentials: AWSCredentials? = nil,
                aliasTemplate: String? = nil, deletionWindowDays: Int? = nil,
                trustDomainTagKey: String = "keycoord:trust-domain", keyTypeTagKey: String = "keycoord:key-type",
                pendingTagKey: String = "keycoord:state", kidTagKey: String = "keycoord:kid",
                requestTimeout: TimeInterval = 10, callDeadline: TimeInterval = 30, maxAttempts: Int = 6) {
        self.region = region
        self.endpoint = endpoint
        self.profile = profile
        self.credentials = credentials
        self.aliasTemplate = aliasTemplate ?? Self.defaultAliasTemplate
        self.deletionWindowDays = deletionWindowDays ?? 30
        self.trustDomainTagKey = trustDomainTagKey
        self.keyTypeTagKey = keyTypeTagKey
        self.pendingTagKey = pendingTagKey
        self.kidTagKey = kidTagKey
        self.requestTimeout = requestTimeout
        self.callDeadline = callDeadline
        self.maxAttempts = maxAttempts
    }
}
