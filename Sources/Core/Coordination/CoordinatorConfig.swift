import Foundation

/// How a `Coordinator` runs: which trust domain, which key types it rotates, and the
/// limits and timings it keeps. `init` fills SPIRE-compatible defaults.
public struct CoordinatorConfig: Sendable {
    /// The SPIFFE trust domain name (`example.org`).
    public var trustDomain: String
    /// This sidecar's id (hostname-pid), used as lock holder and `createdBy`.
    public var instanceID: String
    public var kidFormat: KidFormat
    /// Key types `tick()` rotates; `ensure` serves any SPIRE key type on demand.
    public var keyTypes: [KeyType]
    public var policy: RotationPolicy
    public var maxKeysPerFamily: Int
    public var maxJWKSBytes: Int
    /// Pending backend keys older than this were lost (crash, lost race) and are destroyed.
    public var pendingGrace: Duration
    public var lockTTL: Duration
    /// How long `ensure` waits for another instance's rotation before giving up.
    public var lockWait: Duration
    /// The least time between two reconciliations run by `tick()` (listing a cloud KMS is
    /// slow and rate-limited).
    public var reconcileInterval: Duration

    public init(trustDomain: String, instanceID: String) {
        self.trustDomain = trustDomain
        self.instanceID = instanceID
        self.kidFormat = .spire
        self.keyTypes = [.ecP256]
        self.policy = RotationPolicy()
        self.maxKeysPerFamily = 100
        self.maxJWKSBytes = 51_200
        self.pendingGrace = .seconds(3600)
        self.lockTTL = .seconds(60)
        self.lockWait = .seconds(30)
        self.reconcileInterval = .seconds(300)
    }

    /// The JWKS guards these settings describe.
    public var limits: JWKSLimits { JWKSLimits(maxKeysPerFamily: maxKeysPerFamily, maxBytes: maxJWKSBytes) }

    /// The JWKS slots per family kept for managed rotation: three (retired, active, next)
    /// per configured key type. Keys servers publish themselves may use only the rest.
    public var managedSlots: [KeyFamily: Int] {
        var slots: [KeyFamily: Int] = [:]
        for keyType in keyTypes { slots[keyType.family, default: 0] += RotationPolicy.maxKeysPerType }
        return slots
    }

    /// Throws `CoordinationError.invalid` naming the first setting that cannot work.
    public func validate() throws {
        // Lock names (`jwt:<trust-domain>:<key-type>`) are at most 200 bytes.
        guard TrustDomainName.isValid(trustDomain), trustDomain.utf8.count <= 180 else {
            throw CoordinationError.invalid(
                "trust domain \"\(trustDomain)\" is invalid: use 1-180 lowercase letters, digits, '.', '-' or '_' (SPIFFE trust domain name)")
        }
        guard !instanceID.isEmpty, instanceID.utf8.count <= 200 else {
            throw CoordinationError.invalid("instance id must be 1-200 characters")
        }
        guard !keyTypes.isEmpty, Set(keyTypes).count == keyTypes.count else {
            throw CoordinationError.invalid("key types must list at least one key type, each once")
        }
        try policy.validate()
        let needed = managedSlots.values.max() ?? RotationPolicy.maxKeysPerType
        guard maxKeysPerFamily >= max(needed, RotationPolicy.maxKeysPerType) else {
            throw CoordinationError.invalid(
                "max_keys_per_family (\(maxKeysPerFamily)) must be at least \(max(needed, RotationPolicy.maxKeysPerType)): "
                    + "three keys (retired, active, next) per configured key type of one family")
        }
        guard maxJWKSBytes >= 4096 else {
            throw CoordinationError.invalid("max_jwks_bytes must be at least 4096 (three RSA-4096 keys)")
        }
        guard lockTTL > .zero, lockWait >= .zero else {
            throw CoordinationError.invalid("lock ttl must be positive and lock wait not negative")
        }
        guard pendingGrace > lockTTL else {
            throw CoordinationError.invalid(
                "pending grace (\(pendingGrace)) must exceed the lock ttl (\(lockTTL)), or keys being minted could be destroyed")
        }
        guard reconcileInterval > .zero else { throw CoordinationError.invalid("reconcile interval must be positive") }
    }
}
