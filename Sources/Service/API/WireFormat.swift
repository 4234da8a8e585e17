import Core
import Crypto
import Foundation

/// How Core values look on the wire (snake_case members, RFC 3339 times). The
/// OpenAPI document's schemas describe exactly these objects.
enum WireFormat {
    static func key(_ record: KeyRecord) -> [String: Any] {
        [
            "kid": record.kid,
            "key_type": record.keyType.rawValue,
            "alg": record.keyType.alg,
            "state": record.state.rawValue,
            "tainted": record.tainted,
            "backend": record.backend,
            "backend_ref": record.backendRef as Any? ?? NSNull(),
            "public_key": PEM.encode(record.publicKey, label: "PUBLIC KEY"),
            "created_at": WireTime.format(record.createdAt),
            "published_at": WireTime.format(record.publishedAt),
            "activated_at": record.activatedAt.map(WireTime.format) as Any? ?? NSNull(),
            "not_after": WireTime.format(record.notAfter),
            "created_by": record.createdBy,
        ]
    }

    static func lease(_ lease: LockLease) -> [String: Any] {
        [
            "name": lease.name,
            "lease_id": lease.leaseID,
            "holder": lease.holder,
            "fencing_token": lease.fencingToken,
            "acquired_at": WireTime.format(lease.acquiredAt),
            "expires_at": WireTime.format(lease.expiresAt),
        ]
    }

    static func lockStatus(_ status: LockStatus) -> [String: Any] {
        [
            "name": status.name,
            "held": status.holder != nil,
            "holder": status.holder as Any? ?? NSNull(),
            "expires_at": status.expiresAt.map(WireTime.format) as Any? ?? NSNull(),
            "fencing_token": status.fencingToken,
        ]
    }

    /// The answer to ensure: the key to sign with now at the top level, the published
    /// next key (or null), and when to ask again.
    static func ensure(_ result: EnsureResult) -> [String: Any] {
        var body = signingKey(result.current)
        body["next"] = result.next.map(signingKey) as Any? ?? NSNull()
        body["refresh_after"] = WireTime.format(result.refreshAfter)
        return body
    }

    private static func signingKey(_ record: KeyRecord) -> [String: Any] {
        [
            "kid": record.kid,
            "alg": record.keyType.alg,
            "key_type": record.keyType.rawValue,
            "state": record.state.rawValue,
            "backend": record.backend,
            "backend_ref": record.backendRef as Any? ?? NSNull(),
            "public_key": PEM.encode(record.publicKey, label: "PUBLIC KEY"),
            "published_at": WireTime.format(record.publishedAt),
            "activated_at": record.activatedAt.map(WireTime.format) as Any? ?? NSNull(),
            "not_after": WireTime.format(record.notAfter),
        ]
    }
}
