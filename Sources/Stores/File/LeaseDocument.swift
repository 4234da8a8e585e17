import Foundation

/// Content of `locks/<name>.lease`: the lock's fencing epoch (the last token handed out)
/// and, while held, the lease. Written atomically under the lock's flock, so readers
/// never see a torn document and the epoch only ever grows.
struct LeaseDocument: Codable, Sendable, Equatable {
    var format: Int = 1
    /// The latest fencing token granted for this lock.
    var token: UInt64
    /// The current lease; nil once released or expired. After a crash this may still name
    /// a dead holder: the flock, not this field, says whether the lock is held.
    var lease: Lease?

    struct Lease: Codable, Sendable, Equatable {
        var leaseID: String
        var holder: String
        /// The FileStore instance that granted the lease and alone may renew or release it.
        var instance: String
        var acquiredAt: Date
        var expiresAt: Date
    }
}
