import Core
import Foundation

/// The labels (GCP) or tags (AWS, Azure) keycoord puts on every cloud key it mints, and
/// how a listed key is read back: which trust domain and key type it belongs to, whether
/// it is still pending, and its kid once published. One definition for every cloud, so
/// the reconciler sees the same thing whichever cloud holds the keys.
///
/// Values go through `encode` first: AWS tags take a trust domain as is, GCP labels allow
/// no dots or capitals, so the GCP backend passes an encoding (see docs/gcp.md).
public struct CloudKeyMarks: Sendable {
    public var trustDomainKey: String
    public var keyTypeKey: String
    public var stateKey: String
    public var kidKey: String
    /// A trust domain as stored in the trust-domain mark.
    public var encodeTrustDomain: @Sendable (String) -> String
    /// A kid as stored in the kid mark; nil when the cloud cannot hold it (the kid is then
    /// not marked: the registry has it, the mark is for people reading the console).
    public var encodeKid: @Sendable (String) -> String?

    /// The state mark's value on a key the reconciler must no longer list (a destroyed
    /// key a cloud keeps as a shell, like a Cloud KMS CryptoKey).
    public static let destroyedState = "destroyed"

    public init(trustDomainKey: String, keyTypeKey: String, stateKey: String, kidKey: String,
                encodeTrustDomain: @escaping @Sendable (String) -> String = { $0 },
                encodeKid: @escaping @Sendable (String) -> String? = { $0 }) {
        self.trustDomainKey = trustDomainKey
        self.keyTypeKey = keyTypeKey
        self.stateKey = stateKey
        self.kidKey = kidKey
        self.encodeTrustDomain = encodeTrustDomain
        self.encodeKid = encodeKid
    }

    /// The marks of a newly minted key: set in the create call itself, so a key whose
    /// creator crashed before any other call is still found (and reconciled).
    public func pending(trustDomain: String, keyType: KeyType) -> [String: String] {
        [trustDomainKey: encodeTrustDomain(trustDomain), keyTypeKey: keyType.rawValue, stateKey: BackendKeyMark.pending.rawValue]
    }

    /// The marks that change when a key is published.
    public func published(kid: String) -> [String: String] {
        var marks = [stateKey: BackendKeyMark.published.rawValue]
        if let value = encodeKid(kid) { marks[kidKey] = value }
        return marks
    }

    /// The marks that take a destroyed key out of every later listing.
    public var destroyed: [String: String] { [stateKey: Self.destroyedState] }

    /// Whether `marks` say the key belongs to `trustDomain`.
    public func belongs(_ marks: [String: String], to trustDomain: String) -> Bool {
        marks[trustDomainKey] == encodeTrustDomain(trustDomain)
    }

    /// Whether `marks` say the key was destroyed.
    public func isDestroyed(_ marks: [String: String]) -> Bool { marks[stateKey] == Self.destroyedState }

    /// The key as the reconciler sees it. Anything but an explicit `published` mark is
    /// pending (a key whose mark was lost is pending, never published). `createdAt` nil
    /// (the cloud does not say) keeps the key from ever counting as past its grace.
    public func info(ref: String, marks: [String: String], createdAt: Date?) -> BackendKeyInfo {
        let published = marks[stateKey] == BackendKeyMark.published.rawValue
        return BackendKeyInfo(ref: ref, keyType: marks[keyTypeKey].flatMap(KeyType.init(rawValue:)),
                              mark: published ? .published : .pending, kid: published ? marks[kidKey] : nil,
                              createdAt: createdAt)
    }
}
