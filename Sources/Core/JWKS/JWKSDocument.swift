import Crypto
import Foundation

/// The JWKS relying parties fetch, rendered once per registry change into its exact bytes.
public struct JWKSDocument: Sendable, Equatable {
    /// `{"keys":[...]}`, compact, keys in registry order, members in a fixed order.
    public var body: [UInt8]
    /// The kids served, in order.
    public var kids: [String]
    /// Keys served per family (AWS IAM counts RSA and EC separately).
    public var keyCount: [KeyFamily: Int]
    /// Kids of records whose stored public key no longer parses; they are left out and
    /// reported so the service can log them.
    public var unreadable: [String]

    public init(body: [UInt8], kids: [String], keyCount: [KeyFamily: Int], unreadable: [String]) {
        self.body = body
        self.kids = kids
        self.keyCount = keyCount
        self.unreadable = unreadable
    }

    /// Renders the JWKS of `records` at `now`: published, active, retired and tainted keys
    /// are served; revoked keys and keys past `notAfter + grace` are not.
    public static func render(records: [KeyRecord], now: Date, grace: Duration) -> JWKSDocument {
        var keys: [String] = []
        var kids: [String] = []
        var counts: [KeyFamily: Int] = [:]
        var unreadable: [String] = []
        for record in Registry.deduplicated(records) where includes(record, now: now, grace: grace) {
            guard let key = try? PublicKey(der: record.publicKey) else {
                unreadable.append(record.kid)
                continue
            }
            keys.append(JWK(publicKey: key, kid: record.kid, alg: record.keyType.alg).json)
            kids.append(record.kid)
            counts[record.keyType.family, default: 0] += 1
        }
        let body = "{\"keys\":[" + keys.joined(separator: ",") + "]}"
        return JWKSDocument(body: Array(body.utf8), kids: kids, keyCount: counts, unreadable: unreadable)
    }

    /// Whether `record` belongs in the JWKS at `now`.
    public static func includes(_ record: KeyRecord, now: Date, grace: Duration) -> Bool {
        record.state != .revoked && !Registry.isExpired(record, now: now, grace: grace)
    }
}
