import Foundation

/// Where a key is in its life. `tainted` is a flag beside the state, not a state: it is
/// sticky across duplicates (OR-ed) and a tainted key keeps its place in the JWKS — except
/// a managed key tainted before it ever signed, which verifies no token and gives its slot
/// to its replacement (`RotationPlanner`).
public enum KeyState: String, Codable, Sendable, CaseIterable {
    /// In the JWKS; servers must not sign with it yet.
    case published
    /// Servers sign with it.
    case active
    /// No new signatures; stays in the JWKS until `notAfter` + grace.
    case retired
    /// Removed from the JWKS at once.
    case revoked
}

/// One shared JWT key of a trust domain, as the registry holds it.
public struct KeyRecord: Codable, Sendable, Equatable {
    public var trustDomain: String
    public var kid: String
    public var keyType: KeyType
    /// DER SubjectPublicKeyInfo.
    public var publicKey: [UInt8]
    /// Backend name (`disk`, `aws-kms`, …) or `external` for keys a SPIRE server minted itself.
    public var backend: String
    /// What the backend needs to sign with the key (file path, KMS key ARN, …); nil for external keys.
    public var backendRef: String?
    public var createdAt: Date
    /// When the key entered the JWKS (the clock `publish_lead` runs on).
    public var publishedAt: Date
    public var notAfter: Date
    /// When the key became active, if it ever did.
    public var activatedAt: Date?
    public var state: KeyState
    public var tainted: Bool
    /// Why the key was tainted, as the operator (or keycoord, for a key its backend lost)
    /// gave it; nil when untainted or tainted without a reason. Records written before
    /// reasons were kept have none.
    public var taintReason: String?
    /// The server (or keycoord instance) that created or first published the key.
    public var createdBy: String
    /// The fencing token the last guarded write carried.
    public var fencingToken: UInt64?

    public init(trustDomain: String, kid: String, keyType: KeyType, publicKey: [UInt8], backend: String,
                backendRef: String?, createdAt: Date, publishedAt: Date, notAfter: Date, activatedAt: Date? = nil,
                state: KeyState, tainted: Bool = false, taintReason: String? = nil, createdBy: String,
                fencingToken: UInt64? = nil) {
        self.trustDomain = trustDomain
        self.kid = kid
        self.keyType = keyType
        self.publicKey = publicKey
        self.backend = backend
        self.backendRef = backendRef
        self.createdAt = createdAt
        self.publishedAt = publishedAt
        self.notAfter = notAfter
        self.activatedAt = activatedAt
        self.state = state
        self.tainted = tainted
        self.taintReason = taintReason
        self.createdBy = createdBy
        self.fencingToken = fencingToken
    }

    /// True when servers may sign new tokens with this key.
    public var canSign: Bool { state == .active && !tainted }
}
