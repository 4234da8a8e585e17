import Core
import Crypto

/// Steps every cloud backend takes alike around its keys: checking a freshly minted key's
/// public key, and inspecting listed keys a few at a time.
public enum CloudKeyListing {
    /// How many keys are inspected at once: fast on accounts with many keys, gentle on
    /// request quotas.
    public static let batchSize = 8

    /// Inspects `items` `batchSize` at a time; nil answers (not this trust domain's, gone,
    /// destroyed) are left out. Sorted by creation time (unknown last), then reference.
    public static func inspect<Item: Sendable>(_ items: [Item],
                                               _ inspect: @escaping @Sendable (Item) async throws -> BackendKeyInfo?)
        async throws -> [BackendKeyInfo] {
        var found: [BackendKeyInfo] = []
        for start in stride(from: 0, to: items.count, by: batchSize) {
            try await withThrowingTaskGroup(of: BackendKeyInfo?.self) { group in
                for item in items[start..<min(start + batchSize, items.count)] {
                    group.addTask { try await inspect(item) }
                }
                for try await info in group { if let info { found.append(info) } }
            }
        }
        return found.sorted { ($0.createdAt ?? .distantFuture, $0.ref) < ($1.createdAt ?? .distantFuture, $1.ref) }
    }

    /// The public key `der` of key `ref` that `service` minted, checked to be `keyType`'s.
    public static func mintedPublicKey(_ der: [UInt8], ref: String, keyType: KeyType, service: String) throws -> PublicKey {
        let parsed: PublicKey
        do {
            parsed = try PublicKey(der: der)
        } catch {
            throw CoordinationError.backendFailure(BackendError(.failed, "\(service) returned an unreadable public key for \(ref): \(error)"))
        }
        guard KeyType(parsed.algorithm) == keyType else {
            throw CoordinationError.backendFailure(BackendError(
                .failed, "\(service) key \(ref) is \(parsed.algorithm), not the \(keyType.rawValue) that was asked for"))
        }
        return parsed
    }
}
