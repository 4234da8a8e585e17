import Crypto

/// The 64-bit advisory-lock key of a name: the first 8 bytes of SHA-256("keycoord/" + name),
/// big-endian, as a signed int64. Stable across versions and hosts; PostgreSQL's `hashtext`
/// is not (it is an undocumented internal).
struct PGLockKey: Sendable, Equatable {
    let value: Int64

    init(_ name: String) {
        let digest = Digest.sha256(Array("keycoord/\(name)".utf8))
        value = Int64(bitPattern: digest.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) })
    }

    /// Namespaces for keys that are not user lock names, so they can never collide with one
    /// (lock names cannot contain "/").
    static func trustDomainWriter(_ trustDomain: String) -> PGLockKey { PGLockKey("registry/\(trustDomain)") }
    static let migrations = PGLockKey("schema/migrate")

    /// The parameter text for `$n::bigint`.
    var parameter: String { String(value) }

    /// `pg_locks` shows a bigint advisory key as classid = high 32 bits, objid = low 32 bits
    /// (both unsigned oids) with objsubid = 1.
    var classID: String { String(UInt32(truncatingIfNeeded: UInt64(bitPattern: value) >> 32)) }
    var objectID: String { String(UInt32(truncatingIfNeeded: UInt64(bitPattern: value))) }
}
