import Foundation

/// Guards that keep the served JWKS inside what relying parties accept: AWS IAM takes at
/// most 100 keys per family (RSA, EC), nimbus-jose-jwt at most 51,200 bytes. A change
/// that would push the JWKS past a limit is refused instead of served silently.
public struct JWKSLimits: Sendable, Equatable {
    public var maxKeysPerFamily: Int
    public var maxBytes: Int

    public init(maxKeysPerFamily: Int = 100, maxBytes: Int = 51_200) {
        self.maxKeysPerFamily = maxKeysPerFamily
        self.maxBytes = maxBytes
    }

    /// Throws `.jwksLimit` when the JWKS of `after` breaks a limit and is worse on that
    /// measure than the JWKS of `before`. A change that does not grow the JWKS (taint,
    /// revoke, removal) is always allowed, even when a lowered limit is already exceeded.
    public func check(before: [KeyRecord], after: [KeyRecord], now: Date, grace: Duration) throws {
        let old = JWKSDocument.render(records: before, now: now, grace: grace)
        let new = JWKSDocument.render(records: after, now: now, grace: grace)
        for family in [KeyFamily.ec, .rsa] {
            let count = new.keyCount[family, default: 0]
            if count > maxKeysPerFamily, count > old.keyCount[family, default: 0] {
                throw CoordinationError.jwksLimit(
                    "the JWKS would hold \(count) \(family.rawValue) keys, over the limit of \(maxKeysPerFamily); "
                        + "revoke unused keys or raise max_keys_per_family")
            }
        }
        if new.body.count > maxBytes, new.body.count > old.body.count {
            throw CoordinationError.jwksLimit(
                "the JWKS would be \(new.body.count) bytes, over the limit of \(maxBytes); "
                    + "revoke unused keys or raise max_jwks_bytes")
        }
    }

    /// Throws `.jwksLimit` when the keys servers published themselves (no backend
    /// reference) would, in `after`, leave fewer than `reserved[family]` of the family's
    /// `maxKeysPerFamily` slots to keycoord's managed rotation, and `after` has more such
    /// keys in the family than `before`. Managed rotation needs its slots (three per
    /// configured key type) whatever external publishers do.
    public func checkManagedReserve(before: [KeyRecord], after: [KeyRecord], now: Date, grace: Duration,
                                    reserved: [KeyFamily: Int]) throws {
        func externals(_ records: [KeyRecord]) -> [KeyFamily: Int] {
            var counts: [KeyFamily: Int] = [:]
            for record in Registry.deduplicated(records)
            where record.backendRef == nil && JWKSDocument.includes(record, now: now, grace: grace) {
                counts[record.keyType.family, default: 0] += 1
            }
            return counts
        }
        let old = externals(before), new = externals(after)
        for (family, count) in new where count > old[family, default: 0] {
            let room = maxKeysPerFamily - reserved[family, default: 0]
            if count > room {
                throw CoordinationError.jwksLimit(
                    "the JWKS would hold \(count) published \(family.rawValue) keys; with max_keys_per_family "
                        + "\(maxKeysPerFamily), \(reserved[family, default: 0]) slots are kept for keycoord's managed "
                        + "rotation (three per configured key type), leaving \(room) for published keys; "
                        + "revoke unused keys or raise max_keys_per_family")
            }
        }
    }
}
