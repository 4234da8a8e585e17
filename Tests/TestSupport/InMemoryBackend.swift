import Core
import Crypto
import Foundation

/// A `KeyBackend` holding real OpenSSL private keys in memory: real key generation, real
/// signatures in JOSE form, pending/published marks, and failure injection per operation.
public final class InMemoryBackend: KeyBackend, @unchecked Sendable {
    /// The operations a failure can be injected into.
    public enum Operation: String, Sendable, CaseIterable {
        case create, markPublished, sign, publicKey, list, destroy
    }

    public let name: String
    // All mutable state below is guarded by `lock`.
    private let lock = NSLock()
    private var keys: [String: Entry] = [:]
    private var failures: [Operation: [CoordinationError]] = [:]
    private var unusable: [String: String] = [:]
    private var creates = 0
    private var destroys: [String] = []
    private var signWithStranger = false
    private var createHook: (@Sendable () async -> Void)?
    private let clock: @Sendable () -> Date

    private struct Entry {
        var key: PrivateKey
        var keyType: KeyType
        var trustDomain: String
        var mark: BackendKeyMark
        var kid: String?
        var createdAt: Date?
    }

    public init(name: String = "memory", clock: @escaping @Sendable () -> Date = { Date() }) {
        self.name = name
        self.clock = clock
    }

    /// Keys minted so far (destroyed ones included).
    public var createCount: Int { locked { creates } }
    /// Refs destroyed so far, in order (a ref appears once per `destroy` call that found it).
    public var destroyedRefs: [String] { locked { destroys } }
    /// Refs the backend holds now.
    public var refs: Set<String> { locked { Set(keys.keys) } }

    /// The private key behind `ref`, for tests that sign JWTs as a SPIRE server would.
    public func privateKey(ref: String) -> PrivateKey? { locked { keys[ref]?.key } }

    /// The mark of `ref`, nil when absent.
    public func mark(ref: String) -> BackendKeyMark? { locked { keys[ref]?.mark } }

    /// Makes the next `times` calls of `operation` fail with `error`.
    public func fail(_ operation: Operation, times: Int = 1,
                     with error: CoordinationError = .backendFailure("injected failure")) {
        locked { failures[operation, default: []] += Array(repeating: error, count: times) }
    }

    /// When true, `sign` signs with an unrelated key (a backend returning garbage).
    public func signWithWrongKey(_ enabled: Bool) { locked { signWithStranger = enabled } }

    /// Makes `checkUsable(ref:)` report `message` (a key file this host cannot read).
    public func markUnusable(ref: String, message: String) { locked { unusable[ref] = message } }

    /// Runs `hook` inside every later `create`, after the key exists and before it is
    /// returned: the window in which a lease can expire or a store can fail mid-mint.
    public func onCreate(_ hook: (@Sendable () async -> Void)?) { locked { createHook = hook } }

    /// Adds a key directly, e.g. one a crashed instance left pending long ago; `createdAt`
    /// nil is a key whose backend does not say when it was created.
    @discardableResult
    public func insert(keyType: KeyType, trustDomain: String, mark: BackendKeyMark, createdAt: Date?) throws -> String {
        let key = try PrivateKey.generate(keyType.algorithm)
        return locked {
            let ref = "memory:\(UUID().uuidString.lowercased())"
            keys[ref] = Entry(key: key, keyType: keyType, trustDomain: trustDomain, mark: mark, kid: nil, createdAt: createdAt)
            return ref
        }
    }

    public func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey {
        try injectedFailure(.create)
        let key: PrivateKey
        do {
            key = try PrivateKey.generate(keyType.algorithm)
        } catch {
            throw CoordinationError.backendFailure("key generation failed: \(error)")
        }
        let (created, hook) = locked { () -> (BackendKey, (@Sendable () async -> Void)?) in
            let ref = "memory:\(UUID().uuidString.lowercased())"
            let now = clock()
            keys[ref] = Entry(key: key, keyType: keyType, trustDomain: trustDomain, mark: .pending, kid: nil, createdAt: now)
            creates += 1
            return (BackendKey(ref: ref, publicKey: key.publicKey.der, createdAt: now), createHook)
        }
        await hook?()
        return created
    }

    public func markPublished(ref: String, kid: String) async throws {
        try injectedFailure(.markPublished)
        try locked {
            guard keys[ref] != nil else { throw CoordinationError.backendFailure("no key \(ref)") }
            keys[ref]?.mark = .published
            keys[ref]?.kid = kid
        }
    }

    public func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme,
                     encoding: SignatureEncoding) async throws -> [UInt8] {
        try injectedFailure(.sign)
        try keyType.check(scheme, digest: digest)
        let (entry, stranger) = try locked { () throws -> (Entry, Bool) in
            guard let entry = keys[ref] else { throw CoordinationError.backendFailure("no key \(ref)") }
            return (entry, signWithStranger)
        }
        guard entry.keyType == keyType else {
            throw CoordinationError.backendFailure("key \(ref) is \(entry.keyType.rawValue), not \(keyType.rawValue)")
        }
        do {
            let signer = stranger ? try PrivateKey.generate(keyType.algorithm) : entry.key
            let signature = try signer.sign(digest: digest, scheme: scheme)
            if let size = keyType.algorithm.coordinateSize, encoding == .jose {
                return try ECDSASignature.raw(fromDER: signature, coordinateSize: size)
            }
            return signature
        } catch {
            throw CoordinationError.backendFailure("signing with \(ref) failed: \(error)")
        }
    }

    public func publicKey(ref: String) async throws -> [UInt8] {
        try injectedFailure(.publicKey)
        return try locked {
            guard let entry = keys[ref] else { throw CoordinationError.backendFailure("no key \(ref)") }
            return entry.key.publicKey.der
        }
    }

    public func list(trustDomain: String) async throws -> [BackendKeyInfo] {
        try injectedFailure(.list)
        return locked {
            keys.filter { $0.value.trustDomain == trustDomain }
                .map { BackendKeyInfo(ref: $0.key, keyType: $0.value.keyType, mark: $0.value.mark, kid: $0.value.kid,
                                      createdAt: $0.value.createdAt) }
                .sorted { $0.ref < $1.ref }
        }
    }

    public func destroy(ref: String) async throws {
        try injectedFailure(.destroy)
        locked {
            if keys.removeValue(forKey: ref) != nil { destroys.append(ref) }
        }
    }

    public func checkUsable(ref: String) async -> String? {
        locked {
            if let message = unusable[ref] { return message }
            return keys[ref] == nil ? "no key \(ref) in this backend" : nil
        }
    }

    private func injectedFailure(_ operation: Operation) throws {
        try locked {
            if var queue = failures[operation], !queue.isEmpty {
                let error = queue.removeFirst()
                failures[operation] = queue
                throw error
            }
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
