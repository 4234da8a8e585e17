import Core
import Crypto
import Foundation

/// How Core values look on the wire (snake_case members, RFC 3339 times): one Encodable
/// type per response schema of openapi.yaml, encoded by `JSONWriter` (members sorted,
/// nil optionals as `null`, so every nullable member is always present).
enum WireFormat {
    struct Key: Encodable {
        let kid: String
        let keyType: String
        let alg: String
        let state: String
        let tainted: Bool
        let taintReason: String?
        let backend: String
        let backendRef: String?
        let publicKey: String
        let createdAt: String
        let publishedAt: String
        let activatedAt: String?
        let notAfter: String
        let createdBy: String

        enum CodingKeys: String, CodingKey {
            case kid, alg, state, tainted, backend
            case keyType = "key_type", taintReason = "taint_reason", backendRef = "backend_ref", publicKey = "public_key"
            case createdAt = "created_at", publishedAt = "published_at", activatedAt = "activated_at", notAfter = "not_after", createdBy = "created_by"
        }
    }

    struct KeyList: Encodable {
        let sequence: UInt64
        let keys: [Key]
    }

    struct Lease: Encodable {
        let name: String
        let leaseID: String
        let holder: String
        let fencingToken: UInt64
        let acquiredAt: String
        let expiresAt: String

        enum CodingKeys: String, CodingKey {
            case name, holder
            case leaseID = "lease_id", fencingToken = "fencing_token", acquiredAt = "acquired_at", expiresAt = "expires_at"
        }
    }

    struct LockStatus: Encodable {
        let name: String
        let held: Bool
        let holder: String?
        let expiresAt: String?
        let fencingToken: UInt64

        enum CodingKeys: String, CodingKey {
            case name, held, holder
            case expiresAt = "expires_at", fencingToken = "fencing_token"
        }
    }

    /// A key as ensure hands it to a server.
    struct SigningKey: Encodable {
        let kid: String
        let alg: String
        let keyType: String
        let state: String
        let backend: String
        let backendRef: String?
        let publicKey: String
        let publishedAt: String
        let activatedAt: String?
        let notAfter: String

        enum CodingKeys: String, CodingKey {
            case kid, alg, state, backend
            case keyType = "key_type", backendRef = "backend_ref", publicKey = "public_key", publishedAt = "published_at"
            case activatedAt = "activated_at", notAfter = "not_after"
        }
    }

    /// The answer to ensure: the key to sign with now at the top level, the published
    /// next key (or null), and when to ask again.
    struct Ensure: Encodable {
        let current: SigningKey
        let next: SigningKey?
        let refreshAfter: String

        enum CodingKeys: String, CodingKey {
            case next
            case refreshAfter = "refresh_after"
        }

        func encode(to encoder: any Encoder) throws {
            try current.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(next, forKey: .next)
            try container.encode(refreshAfter, forKey: .refreshAfter)
        }
    }

    struct Events: Encodable {
        let sequence: UInt64
        let changed: Bool
    }

    struct Readiness: Encodable {
        struct Check: Encodable {
            let ok: Bool
            let detail: String
        }

        let status: String
        let checks: [String: Check]
    }

    static func key(_ record: KeyRecord) -> Key {
        Key(kid: record.kid, keyType: record.keyType.rawValue, alg: record.keyType.alg, state: record.state.rawValue,
            tainted: record.tainted, taintReason: record.taintReason, backend: record.backend, backendRef: record.backendRef,
            publicKey: PEM.encode(record.publicKey, label: "PUBLIC KEY"), createdAt: WireTime.format(record.createdAt),
            publishedAt: WireTime.format(record.publishedAt), activatedAt: record.activatedAt.map(WireTime.format),
            notAfter: WireTime.format(record.notAfter), createdBy: record.createdBy)
    }

    static func keyList(_ snapshot: RegistrySnapshot) -> KeyList {
        KeyList(sequence: snapshot.sequence, keys: snapshot.records.map(key))
    }

    static func lease(_ lease: LockLease) -> Lease {
        Lease(name: lease.name, leaseID: lease.leaseID, holder: lease.holder, fencingToken: lease.fencingToken,
              acquiredAt: WireTime.format(lease.acquiredAt), expiresAt: WireTime.format(lease.expiresAt))
    }

    static func lockStatus(_ status: Core.LockStatus) -> LockStatus {
        LockStatus(name: status.name, held: status.holder != nil, holder: status.holder,
                   expiresAt: status.expiresAt.map(WireTime.format), fencingToken: status.fencingToken)
    }

    static func ensure(_ result: EnsureResult) -> Ensure {
        Ensure(current: signingKey(result.current), next: result.next.map(signingKey), refreshAfter: WireTime.format(result.refreshAfter))
    }

    private static func signingKey(_ record: KeyRecord) -> SigningKey {
        SigningKey(kid: record.kid, alg: record.keyType.alg, keyType: record.keyType.rawValue, state: record.state.rawValue,
                   backend: record.backend, backendRef: record.backendRef, publicKey: PEM.encode(record.publicKey, label: "PUBLIC KEY"),
                   publishedAt: WireTime.format(record.publishedAt), activatedAt: record.activatedAt.map(WireTime.format),
                   notAfter: WireTime.format(record.notAfter))
    }
}
