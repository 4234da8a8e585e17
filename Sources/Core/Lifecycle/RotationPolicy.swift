import Foundation

/// When keycoord mints, activates and drops the shared keys of one key type. Defaults
/// follow SPIRE: a 24 h key lifetime (`ca_ttl`), the successor prepared at
/// `notAfter − min(life/2, 30 d)` and activated at `notAfter − min(life/6, 7 d)`.
public struct RotationPolicy: Sendable, Equatable {
    /// Lifetime of a minted key.
    public var ttl: Duration
    /// How long a key must have been in the JWKS before servers may sign with it; at least
    /// the longest relying-party JWKS cache (Envoy caches 10 minutes by default).
    public var publishLead: Duration
    /// How long a key stays in the JWKS after `notAfter`, for clock skew and tokens
    /// signed just before expiry.
    public var grace: Duration

    /// The most keys of one key type the JWKS ever holds: retired, active and next.
    public static let maxKeysPerType = 3

    public init(ttl: Duration = .seconds(24 * 3600), publishLead: Duration = .seconds(15 * 60),
                grace: Duration = .seconds(5 * 60)) {
        self.ttl = ttl
        self.publishLead = publishLead
        self.grace = grace
    }

    /// Throws `CoordinationError.invalid` when the schedule cannot keep `publishLead`: the
    /// successor is published at half-life, so it could never be in the JWKS for
    /// `publishLead` before the current key expires unless `publishLead < ttl/2`; the same
    /// bound on `grace` lets the retired key leave the JWKS before the next routine mint
    /// needs its slot (see `RotationPlanner` for the per-type cap). Messages use the
    /// configuration names (`key-ttl`, `publish-lead`, `grace`).
    public func validate() throws {
        guard ttl > .zero else { throw CoordinationError.invalid("key-ttl must be positive") }
        guard publishLead >= .zero, grace >= .zero else {
            throw CoordinationError.invalid("publish-lead and grace must not be negative")
        }
        func seconds(_ duration: Duration) -> String { "\(Int(duration.timeInterval.rounded()))s" }
        guard publishLead < ttl / 2 else {
            throw CoordinationError.invalid(
                "publish-lead (\(seconds(publishLead))) must be shorter than half of key-ttl (\(seconds(ttl))); "
                    + "raise key-ttl or lower publish-lead")
        }
        guard grace < ttl / 2 else {
            throw CoordinationError.invalid(
                "grace (\(seconds(grace))) must be shorter than half of key-ttl (\(seconds(ttl))); raise key-ttl or lower grace")
        }
    }

    /// The longest time before `notAfter` that a successor is prepared (SPIRE's 30 days).
    static let longestPrepareWindow: Int64 = 30 * 86400

    /// The latest `not_after` a published key may carry: one key lifetime plus `grace`
    /// (clock skew) from `now`. Since the largest `not_after` of duplicates wins, an
    /// unbounded one could never be shortened again.
    public func latestNotAfter(from now: Date) -> Date {
        now.addingTimeInterval(ttl.timeInterval + grace.timeInterval)
    }

    /// When the successor of `record` should be minted and published.
    public func prepareTime(of record: KeyRecord) -> Date {
        let life = record.notAfter.timeIntervalSince(record.createdAt)
        return record.notAfter.addingTimeInterval(-min(life / 2, TimeInterval(Self.longestPrepareWindow)))
    }

    /// When the successor of `record` may take over (if it has been published long enough).
    public func activationTime(of record: KeyRecord) -> Date {
        let life = record.notAfter.timeIntervalSince(record.createdAt)
        return record.notAfter.addingTimeInterval(-min(life / 6, 7 * 86400))
    }

    /// When a published key has been in the JWKS long enough to be signed with.
    public func readyTime(of record: KeyRecord) -> Date {
        record.publishedAt.addingTimeInterval(publishLead.timeInterval)
    }

    /// When a key leaves the JWKS and the registry.
    public func removalTime(of record: KeyRecord) -> Date {
        record.notAfter.addingTimeInterval(grace.timeInterval)
    }
}
