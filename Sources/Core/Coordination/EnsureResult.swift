import Foundation

/// What `ensure` hands a SPIRE server: the key to sign with now, the published successor
/// (so the server can prepare it), and when to ask again.
public struct EnsureResult: Sendable, Equatable {
    /// An active, untainted key held by this instance's backend.
    public var current: KeyRecord
    public var next: KeyRecord?
    /// The earliest time `next` becomes the signing key (current key at 5/6 of its life and
    /// `next` published for `publish_lead`); nil without a next key.
    public var nextActivatesAt: Date?
    /// When the answer may change (next rotation step), bounded to [a few seconds, ttl/10].
    public var refreshAfter: Date

    public init(current: KeyRecord, next: KeyRecord?, refreshAfter: Date, nextActivatesAt: Date? = nil) {
        self.current = current
        self.next = next
        self.refreshAfter = refreshAfter
        self.nextActivatesAt = nextActivatesAt
    }
}
