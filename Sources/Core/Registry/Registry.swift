import Foundation

/// The rules every registry change follows, as pure functions over records, so that every
/// store applies them the same way inside its own atomic update.
public enum Registry {
    /// Merges two records of the same kid (SPIRE's bundle dedup): the largest `notAfter`
    /// wins, `tainted` is OR-ed (the first reason given stays), and a state never moves backwards (a revoked key stays
    /// revoked, a retired one is not reactivated). Identity fields come from `first`, the
    /// record seen first, except that a backend-held twin replaces an external one, since
    /// only it can sign.
    public static func merge(_ first: KeyRecord, _ second: KeyRecord) -> KeyRecord {
        var merged = first
        if first.backendRef == nil, second.backendRef != nil {
            merged.backend = second.backend
            merged.backendRef = second.backendRef
        }
        merged.notAfter = max(first.notAfter, second.notAfter)
        merged.tainted = first.tainted || second.tainted
        merged.taintReason = merged.tainted ? (first.taintReason ?? second.taintReason) : nil
        merged.state = rank(second.state) > rank(first.state) ? second.state : first.state
        merged.createdAt = min(first.createdAt, second.createdAt)
        merged.publishedAt = min(first.publishedAt, second.publishedAt)
        merged.activatedAt = [first.activatedAt, second.activatedAt].compactMap { $0 }.min()
        merged.fencingToken = [first.fencingToken, second.fencingToken].compactMap { $0 }.max()
        return merged
    }

    /// Collapses records with the same kid into one, keeping first-seen order.
    public static func deduplicated(_ records: [KeyRecord]) -> [KeyRecord] {
        var out: [KeyRecord] = []
        var index: [String: Int] = [:]
        for record in records {
            if let at = index[record.kid] {
                out[at] = merge(out[at], record)
            } else {
                index[record.kid] = out.count
                out.append(record)
            }
        }
        return out
    }

    /// Publishes `record` into `records`: appended when its kid is new, merged into the
    /// existing record otherwise. Returns the record as stored.
    @discardableResult
    public static func upsert(_ record: KeyRecord, into records: inout [KeyRecord]) -> KeyRecord {
        if let at = records.firstIndex(where: { $0.kid == record.kid }) {
            records[at] = merge(records[at], record)
            return records[at]
        }
        records.append(record)
        return record
    }

    /// Whether a record has outlived the JWKS: it is past `notAfter + grace`.
    public static func isExpired(_ record: KeyRecord, now: Date, grace: Duration) -> Bool {
        now >= record.notAfter.addingTimeInterval(grace.timeInterval)
    }

    /// Whether a record may leave the registry: expired and not revoked. A revoked record
    /// stays for good as the key's tombstone (its kid and public key), since anyone can
    /// publish a public key and a revoked key — possibly compromised — must never return.
    /// It is never served; it costs a few hundred bytes of registry per revocation.
    public static func isRemovable(_ record: KeyRecord, now: Date, grace: Duration) -> Bool {
        record.state != .revoked && isExpired(record, now: now, grace: grace)
    }

    /// The tombstone that bars `key` (by kid or, whatever kid format made it, by its public key), if any.
    public static func tombstone(in records: [KeyRecord], kid: String, publicKey: [UInt8]) -> KeyRecord? {
        records.first { $0.state == .revoked && ($0.kid == kid || $0.publicKey == publicKey) }
    }

    /// The order states move in; merging never moves a key backwards.
    static func rank(_ state: KeyState) -> Int {
        switch state {
        case .published: return 0
        case .active: return 1
        case .retired: return 2
        case .revoked: return 3
        }
    }
}
