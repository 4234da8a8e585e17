import Crypto
import Foundation

/// A key a backend minted.
public struct BackendKey: Sendable, Equatable {
    /// What the backend and SPIRE servers use to find the key (file path, KMS key ARN…).
    public var ref: String
    /// DER SubjectPublicKeyInfo.
    public var publicKey: [UInt8]
    public var createdAt: Date

    public init(ref: String, publicKey: [UInt8], createdAt: Date) {
        self.ref = ref
        self.publicKey = publicKey
        self.createdAt = createdAt
    }
}

/// How a backend has marked a key it holds. Keys stay `pending` from mint until the
/// record is published; a pending key older than a grace period was lost (a crash, a
/// lost race) and the reconciler deletes it.
public enum BackendKeyMark: String, Sendable, Codable {
    case pending
    case published
}

/// One key as the backend lists it, for reconciliation.
public struct BackendKeyInfo: Sendable, Equatable {
    public var ref: String
    public var keyType: KeyType?
    public var mark: BackendKeyMark
    public var kid: String?
    /// When the key was created; nil when the backend does not say. A key of unknown age
    /// is never taken for one past its grace period.
    public var createdAt: Date?

    public init(ref: String, keyType: KeyType?, mark: BackendKeyMark, kid: String?, createdAt: Date?) {
        self.ref = ref
        self.keyType = keyType
        self.mark = mark
        self.kid = kid
        self.createdAt = createdAt
    }
}

/// Where shared private keys live: a directory, AWS KMS, GCP Cloud KMS, Azure Key Vault.
/// Private key material never crosses this protocol. Every method may throw
/// `CoordinationError.backendFailure` with a `BackendError` whose kind says what failed
/// (throttled, denied, not found, unavailable, invalid) and a message an operator can act on.
public protocol KeyBackend: AnyObject, Sendable {
    /// The backend's name as it appears in key records (`disk`, `aws-kms`, …).
    var name: String { get }

    /// Mints a new key marked `pending`, labelled with the trust domain and key type.
    func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey

    /// Marks a minted key as published under `kid` (the reconciler will leave it alone).
    func markPublished(ref: String, kid: String) async throws

    /// Signs a digest made with `scheme.hash`. Returns an EC signature in `encoding` (JOSE
    /// r‖s, RFC 7518 §3.4, or DER), checked to be one for the key type; RSA signatures are
    /// the PKCS #1 v1.5 or RSA-PSS bytes either way. EC keys sign only their key type's
    /// hash; a scheme the backend cannot produce (a PSS salt length other than the
    /// digest's in a KMS, PSS with a Cloud KMS key fixed to PKCS #1) is
    /// `CoordinationError.invalid` naming what it can do.
    func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme,
              encoding: SignatureEncoding) async throws -> [UInt8]

    /// The public key of a key the backend holds.
    func publicKey(ref: String) async throws -> [UInt8]

    /// Every key of `trustDomain` this backend holds.
    func list(trustDomain: String) async throws -> [BackendKeyInfo]

    /// Deletes (or schedules deletion of) a key. Idempotent: an absent key is not an error.
    func destroy(ref: String) async throws

    /// Whether this instance can use the key (a disk key on an unshared volume may not be
    /// readable here); a message when it cannot.
    func checkUsable(ref: String) async -> String?

    /// Binds the backend's storage of `trustDomain` to one registry (`registry` is its
    /// identity). Throws `.invalid` when the storage already belongs to another registry:
    /// that deployment's reconciler would destroy this one's keys and the reverse.
    func claim(trustDomain: String, registry: String) async throws

    /// Why the key no longer exists for anyone (its file was deleted from the shared keys
    /// directory…), or nil when it exists or the backend cannot tell. Unlike
    /// `checkUsable`, a lost key cannot sign anywhere: it is replaced like a tainted one.
    func lostReason(ref: String) async -> String?
}

extension KeyBackend {
    /// Signs a digest the way the key type's JOSE `alg` does (ES256, ES384, RS256).
    public func sign(ref: String, keyType: KeyType, digest: [UInt8]) async throws -> [UInt8] {
        try await sign(ref: ref, keyType: keyType, digest: digest, scheme: .pkcs1(keyType.hash), encoding: .jose)
    }

    /// Signs with `scheme`, an EC signature in JOSE form.
    public func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme) async throws -> [UInt8] {
        try await sign(ref: ref, keyType: keyType, digest: digest, scheme: scheme, encoding: .jose)
    }

    /// Backends whose keys no other deployment can reach need no claim.
    public func claim(trustDomain: String, registry: String) async throws {}

    /// Backends that cannot tell a lost key from an unusable one report none lost.
    public func lostReason(ref: String) async -> String? { nil }
}
