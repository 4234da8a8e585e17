import Foundation

/// A granted lease on a named lock. The fencing token strictly increases with every
/// acquisition of the same name, across all instances sharing the store.
public struct LockLease: Codable, Sendable, Equatable {
    public var name: String
    public var leaseID: String
    public var holder: String
    public var fencingToken: UInt64
    public var acquiredAt: Date
    public var expiresAt: Date

    public init(name: String, leaseID: String, holder: String, fencingToken: UInt64, acquiredAt: Date, expiresAt: Date) {
        self.name = name
        self.leaseID = leaseID
        self.holder = holder
        self.fencingToken = fencingToken
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }
}

/// What anyone may see of a lock.
public struct LockStatus: Codable, Sendable, Equatable {
    public var name: String
    /// The current holder, nil when free.
    public var holder: String?
    public var expiresAt: Date?
    /// The fencing token of the latest acquisition (0 if never acquired).
    public var fencingToken: UInt64

    public init(name: String, holder: String?, expiresAt: Date?, fencingToken: UInt64) {
        self.name = name
        self.holder = holder
        self.expiresAt = expiresAt
        self.fencingToken = fencingToken
    }
}

/// A fencing token presented with a guarded write: the write is refused unless `token`
/// is still the latest one handed out for `lock`.
public struct Fence: Codable, Sendable, Equatable {
    public var lock: String
    public var token: UInt64

    public init(lock: String, token: UInt64) {
        self.lock = lock
        self.token = token
    }
}

/// Lock names are `[A-Za-z0-9._:-]{1,200}`, so they are safe as file names, SQL
/// parameters and URL path segments as they are. keycoord's own locks use the same
/// alphabet (`jwt:<trust-domain>:<key-type>`) under a reserved prefix.
public enum LockName {
    /// The prefix of keycoord's internal locks (the rotation locks). The control API
    /// refuses to take, renew or release them: a member holding one would stop rotation
    /// and taint for the whole trust domain.
    public static let reservedPrefix = "jwt:"

    /// Whether `name` is one of keycoord's internal locks.
    public static func isReserved(_ name: String) -> Bool { name.hasPrefix(reservedPrefix) }

    /// The rotation lock of one key type of a trust domain.
    public static func rotation(trustDomain: String, keyType: KeyType) -> String {
        "\(reservedPrefix)\(trustDomain):\(keyType.rawValue)"
    }

    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...200).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b == UInt8(ascii: "-")
        }
    }
}
