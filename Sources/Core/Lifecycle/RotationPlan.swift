import Foundation

/// What one rotation step must do to the keys of one key type. Produced by
/// `RotationPlanner`, applied by the coordinator inside one atomic store update; minting
/// is the only part that needs the backend and so happens in a second, fenced update.
public struct RotationPlan: Sendable, Equatable {
    /// Kids to remove from the registry (past `notAfter + grace`, or evicted to keep the
    /// JWKS at `RotationPolicy.maxKeysPerType`).
    public var remove: [String] = []
    /// Kids that must stop signing: the old key on activation, tainted or expired active keys.
    public var retire: [String] = []
    /// The kid to make active.
    public var activate: String?
    /// A key to mint: `.active` when nothing can sign (first key or emergency), `.published`
    /// for the next key at the current key's half-life.
    public var mint: KeyState?
    /// Servers will sign with a key relying parties may not have fetched yet (a taint,
    /// a revoke or an outage left nothing usable).
    public var emergency = false
    /// The key servers should sign with once the plan is applied (nil while a mint is due).
    public var current: KeyRecord?
    /// The published successor, if any.
    public var next: KeyRecord?
    /// The earliest time this plan can change without anyone writing to the registry.
    public var nextChange: Date?

    public init() {}

    /// True when the registry needs no change now.
    public var isEmpty: Bool { remove.isEmpty && retire.isEmpty && activate == nil && mint == nil }

    /// Applies removals and state changes (not the mint) to `records`.
    public func apply(to records: inout [KeyRecord], now: Date) {
        let removed = Set(remove)
        records.removeAll { removed.contains($0.kid) }
        for index in records.indices {
            if retire.contains(records[index].kid), records[index].state != .revoked {
                records[index].state = .retired
            }
            if records[index].kid == activate {
                records[index].state = .active
                records[index].activatedAt = now
            }
        }
    }
}
