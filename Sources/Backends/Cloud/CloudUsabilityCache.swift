import Foundation
import Synchronization

/// Remembers which cloud keys this instance found usable, and for how long that answer
/// holds, so `checkUsable` — called on every ensure, even on its fast path, and on every
/// readiness probe — makes no cloud call while the answer is fresh. Cloud request quotas
/// (GCP: 1,500 reads a minute per project by default) are for minting, not for answering.
///
/// A key this instance minted and verified, or signed with, counts as usable from then on.
/// A failed check is never cached: the next call looks again.
public final class CloudUsabilityCache: Sendable {
    /// How long a good answer holds.
    public let ttl: TimeInterval
    private let checked = Mutex([String: ContinuousClock.Instant]())
    private let clock = ContinuousClock()

    public init(ttl: TimeInterval) {
        self.ttl = max(0, ttl)
    }

    /// Whether `ref` was found usable within `ttl`.
    public func isFresh(_ ref: String) -> Bool {
        let now = clock.now
        return checked.withLock { entries in
            guard let at = entries[ref] else { return false }
            return now - at < .seconds(ttl)
        }
    }

    /// Records that `ref` was just found usable.
    public func markUsable(_ ref: String) {
        let now = clock.now
        checked.withLock { entries in
            // Entries of destroyed keys are forgotten in `forget`; this bound only guards
            // against a caller that checks an endless stream of references.
            if entries.count >= 4096 { entries = entries.filter { now - $0.value < .seconds(ttl) } }
            entries[ref] = now
        }
    }

    /// Forgets `ref` (destroyed, or found unusable).
    public func forget(_ ref: String) {
        _ = checked.withLock { $0.removeValue(forKey: ref) }
    }
}
