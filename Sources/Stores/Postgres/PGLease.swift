import Core
import Foundation
import Synchronization

/// A lease this instance granted: the pinned session holding `pg_advisory_lock(key)` and the
/// lease's local expiry (the store's `PGExpiryTimer` ends it then). `end()` succeeds exactly
/// once, so expiry, release, renewal failure and close never tear a lease down twice.
final class PGLease: Sendable {
    let name: String
    let leaseID: String
    let holder: String
    let fencingToken: UInt64
    let acquiredAt: Date
    let key: PGLockKey
    let connection: PGConnection

    private struct State {
        var expiresAt: Date
        var ended = false
    }

    private let state: Mutex<State>

    init(name: String, leaseID: String, holder: String, fencingToken: UInt64, acquiredAt: Date, expiresAt: Date,
         key: PGLockKey, connection: PGConnection) {
        self.name = name
        self.leaseID = leaseID
        self.holder = holder
        self.fencingToken = fencingToken
        self.acquiredAt = acquiredAt
        self.key = key
        self.connection = connection
        state = Mutex(State(expiresAt: expiresAt))
    }

    var expiresAt: Date { state.withLock { $0.expiresAt } }

    /// Not ended and not past its expiry.
    var isLive: Bool { state.withLock { !$0.ended && $0.expiresAt > Date() } }

    var isEnded: Bool { state.withLock { $0.ended } }

    var lockLease: LockLease {
        LockLease(name: name, leaseID: leaseID, holder: holder, fencingToken: fencingToken,
                  acquiredAt: acquiredAt, expiresAt: expiresAt)
    }

    /// Moves the expiry; false when the lease ended meanwhile.
    func extend(to expiresAt: Date) -> Bool {
        state.withLock { state in
            guard !state.ended else { return false }
            state.expiresAt = expiresAt
            return true
        }
    }

    /// Marks the lease ended; true only for the first caller.
    func end() -> Bool {
        state.withLock { state in
            guard !state.ended else { return false }
            state.ended = true
            return true
        }
    }
}
