import Core
import FileSupport

/// Where the file store keeps each piece of state under its directory. Every name that
/// reaches a path is validated first (lock names by `LockName.isValid`, trust domains by
/// `SafeName.isTrustDomain`), so no input can address a file outside the directory.
struct FileStoreLayout: Sendable {
    let root: String

    var locksDirectory: String { "\(root)/locks" }
    var registryDirectory: String { "\(root)/registry" }

    /// The `flock` target of a lock. Never rewritten: replacing it by rename would move
    /// waiting lockers onto an orphaned inode.
    func lockFile(_ name: String) throws -> String {
        "\(locksDirectory)/\(try checkedLockName(name)).lock"
    }

    /// The lock's fencing epoch and current lease, replaced atomically under the flock.
    func leaseFile(_ name: String) throws -> String {
        "\(locksDirectory)/\(try checkedLockName(name)).lease"
    }

    /// The file a lease's process keeps flocked for the lease's life (removed when it ends).
    func holderFile(_ name: String, leaseID: String) throws -> String {
        guard !leaseID.isEmpty, leaseID.utf8.count <= 64,
              leaseID.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw CoordinationError.storeUnavailable("lease id \(leaseID) of lock \(name) is not a lease id this store makes") }
        return "\(locksDirectory)/\(try checkedLockName(name)).\(leaseID).holder"
    }

    func registryFile(_ trustDomain: String) throws -> String {
        "\(registryDirectory)/\(try checkedTrustDomain(trustDomain)).json"
    }

    /// The registry's identity, written once (exclusive create) and never replaced.
    func registryIdentityFile(_ trustDomain: String) throws -> String {
        "\(registryDirectory)/\(try checkedTrustDomain(trustDomain)).identity"
    }

    /// The `flock` serialising read-modify-write of one trust domain's registry.
    func registryLockFile(_ trustDomain: String) throws -> String {
        "\(registryDirectory)/\(try checkedTrustDomain(trustDomain)).lock"
    }

    private func checkedLockName(_ name: String) throws -> String {
        guard LockName.isValid(name) else {
            throw CoordinationError.invalid("lock name must be 1–200 characters of A–Z a–z 0–9 . _ : -")
        }
        return name
    }

    private func checkedTrustDomain(_ name: String) throws -> String {
        guard SafeName.isTrustDomain(name) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        return name
    }
}
