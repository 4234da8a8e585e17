import Core
import Crypto
import Foundation

/// The `KeyBackend` contract as executable checks, shared by every backend (disk, AWS KMS
/// on moto, GCP Cloud KMS on its fake, and each cloud's in-memory client), like
/// `StoreConformance` for stores. Run each check as its own test case:
///
///     @Test(arguments: BackendConformance.Check.allCases)
///     func conformance(_ check: BackendConformance.Check) async throws {
///         try await BackendConformance(makeBackend: { … }, faults: …).run(check)
///     }
///
/// Each check uses trust domains of its own, so checks can share one backing service.
/// Public keys, kids and signatures are checked by `cryptography` (Tests/python/verify_jws.py),
/// not by keycoord's own crypto. The fault checks (lost answer, throttling, denial) need
/// `faults`; a backend without a wire (disk) has none and skips nothing else.
public struct BackendConformance: Sendable {
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case mintsEveryKeyTypeWithTheIndependentKid
        case signaturesVerifyIndependently
        case listsOnlyItsTrustDomainWithMarks
        case destroyIsIdempotent
        case reconcileDestroysStalePendingKeysNeverPublishedOnes
        case lostCreateAnswerLeavesNothingUnseen
        case throttlingIsSurvived
        case permissionErrorIsReportedClearly

        public var description: String { rawValue }

        public var needsFaults: Bool {
            switch self {
            case .lostCreateAnswerLeavesNothingUnseen, .throttlingIsSurvived, .permissionErrorIsReportedClearly: return true
            default: return false
            }
        }
    }

    /// The operations faults can be injected into.
    public enum Operation: Sendable {
        case create
        case sign
    }

    /// Fault injection into the backend's cloud (a fake server's admin API, an in-memory client).
    public protocol Faults: Sendable {
        /// The next `operation` is performed but its answer is lost (the connection drops).
        func loseNextAnswer(_ operation: Operation) async throws
        /// The next `times` calls of `operation` are refused as throttled.
        func throttle(_ operation: Operation, times: Int) async throws
        /// The next call of `operation` is refused for a missing permission.
        func deny(_ operation: Operation) async throws
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public typealias Factory = @Sendable () async throws -> any KeyBackend

    private let makeBackend: Factory
    private let faults: (any Faults)?
    private let keyTypes: [KeyType]

    /// `keyTypes` are minted by the key-type check (all four by default).
    public init(keyTypes: [KeyType] = KeyType.allCases, faults: (any Faults)? = nil, makeBackend: @escaping Factory) {
        self.makeBackend = makeBackend
        self.faults = faults
        self.keyTypes = keyTypes
    }

    public func run(_ check: Check) async throws {
        if check.needsFaults, faults == nil {
            throw Failure(description: "\(check) needs fault injection; give the conformance suite its Faults")
        }
        let backend = try await makeBackend()
        let domain = "\(check.rawValue.lowercased().prefix(20))-\(SecureRandom.hexToken(bytes: 4)).example.org"
        switch check {
        case .mintsEveryKeyTypeWithTheIndependentKid: try await mintsEveryKeyType(backend, domain)
        case .signaturesVerifyIndependently: try await signaturesVerify(backend, domain)
        case .listsOnlyItsTrustDomainWithMarks: try await listsOnlyItsTrustDomain(backend, domain)
        case .destroyIsIdempotent: try await destroyIsIdempotent(backend, domain)
        case .reconcileDestroysStalePendingKeysNeverPublishedOnes: try await reconcile(backend, domain)
        case .lostCreateAnswerLeavesNothingUnseen: try await lostCreateAnswer(backend, domain)
        case .throttlingIsSurvived: try await throttling(backend, domain)
        case .permissionErrorIsReportedClearly: try await permission(backend, domain)
        }
    }

    // MARK: Checks

    func mintsEveryKeyType(_ backend: any KeyBackend, _ domain: String) async throws {
        for keyType in keyTypes {
            let key = try await backend.create(keyType: keyType, trustDomain: domain)
            let parsed = try PublicKey(der: key.publicKey)
            try expect(KeyType(parsed.algorithm) == keyType, "\(keyType) mint gave a \(parsed.algorithm) key")
            try expect(try await backend.publicKey(ref: key.ref) == key.publicKey, "publicKey(ref:) differs from the minted key")
            let verdict = try await verify(backend, ref: key.ref, keyType: keyType, publicKey: key.publicKey)
            try expect(verdict.valid, "a \(keyType) signature does not verify with cryptography")
            try expect(verdict.spireKid == KidFormat.spire.kid(for: parsed),
                       "kid \(KidFormat.spire.kid(for: parsed)) differs from cryptography's \(verdict.spireKid)")
            try expect(abs(key.createdAt.timeIntervalSinceNow) < 600, "created at \(key.createdAt), not now")
            try await backend.destroy(ref: key.ref)
        }
    }

    func signaturesVerify(_ backend: any KeyBackend, _ domain: String) async throws {
        let key = try await backend.create(keyType: .ecP256, trustDomain: domain)
        let good = try await verify(backend, ref: key.ref, keyType: .ecP256, publicKey: key.publicKey)
        try expect(good.valid && good.alg == "ES256", "an ES256 JWS signed through the backend does not verify: \(good)")
        let tampered = try await verify(backend, ref: key.ref, keyType: .ecP256, publicKey: key.publicKey, tamper: true)
        try expect(!tampered.valid, "a tampered JWS verified: the check cannot say no")
        let der = try await verify(backend, ref: key.ref, keyType: .ecP256, publicKey: key.publicKey, encoding: .der)
        try expect(der.valid, "a DER signature (SPIRE's encoding) through the backend does not verify: \(der)")
        try await expectError("a digest of the wrong length", { _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: [1, 2, 3]) },
                              where: { if case .invalid = $0 { return true } else { return false } })
        try expect(await backend.checkUsable(ref: key.ref) == nil, "a key that just signed is reported unusable")
        try await backend.destroy(ref: key.ref)
    }

    func listsOnlyItsTrustDomain(_ backend: any KeyBackend, _ domain: String) async throws {
        let other = "other-\(domain)"
        let first = try await backend.create(keyType: .ecP256, trustDomain: domain)
        let second = try await backend.create(keyType: .ecP384, trustDomain: domain)
        let foreign = try await backend.create(keyType: .ecP256, trustDomain: other)
        try await backend.markPublished(ref: second.ref, kid: "0123456789abcdef0123456789abcdef01234567")
        let listed = try await backend.list(trustDomain: domain)
        try expect(Set(listed.map(\.ref)) == [first.ref, second.ref], "list shows \(listed.map(\.ref)), expected this domain's two keys")
        let byRef = Dictionary(uniqueKeysWithValues: listed.map { ($0.ref, $0) })
        try expect(byRef[first.ref]?.mark == .pending && byRef[first.ref]?.keyType == .ecP256, "first key listed as \(String(describing: byRef[first.ref]))")
        try expect(byRef[second.ref]?.mark == .published && byRef[second.ref]?.keyType == .ecP384
                   && byRef[second.ref]?.kid == "0123456789abcdef0123456789abcdef01234567",
                   "published key listed as \(String(describing: byRef[second.ref]))")
        for info in listed {
            guard let created = info.createdAt else { throw Failure(description: "\(info.ref) listed without a creation time") }
            try expect(abs(created.timeIntervalSinceNow) < 600, "\(info.ref) listed as created at \(created)")
        }
        try expect(try await backend.list(trustDomain: other).map(\.ref) == [foreign.ref], "the other domain lists more than its key")
        for ref in [first.ref, second.ref, foreign.ref] { try await backend.destroy(ref: ref) }
    }

    func destroyIsIdempotent(_ backend: any KeyBackend, _ domain: String) async throws {
        let key = try await backend.create(keyType: .ecP256, trustDomain: domain)
        try expect(await backend.checkUsable(ref: key.ref) == nil, "a new key is reported unusable")
        try await backend.destroy(ref: key.ref)
        try await backend.destroy(ref: key.ref)
        try expect(try await backend.list(trustDomain: domain).isEmpty, "a destroyed key is still listed")
        try expect(await backend.checkUsable(ref: key.ref) != nil, "a destroyed key is reported usable")
    }

    /// Through Core's reconciler over a throwaway registry: a pending key past the grace is
    /// destroyed, the published one (in the registry and the JWKS) never is.
    func reconcile(_ backend: any KeyBackend, _ domain: String) async throws {
        let store = InMemoryStore()
        var config = CoordinatorConfig(trustDomain: domain, instanceID: "conformance")
        config.pendingGrace = .seconds(3600)
        let late = Date().addingTimeInterval(2 * 3600)
        let now = try Coordinator(config: config, store: store, backend: backend)
        let published = try await now.ensure(keyType: .ecP256, serverID: "spire-1").current
        let publishedRef = try require(published.backendRef, "ensure gave a key without a backend reference")
        let stray = try await backend.create(keyType: .ecP256, trustDomain: domain)
        try expect(try await now.reconcile() == 0, "reconcile destroyed a pending key younger than the grace")
        try expect(Set(try await backend.list(trustDomain: domain).map(\.ref)) == [publishedRef, stray.ref],
                   "a young pending key or the published key went missing")
        // Two hours later from this instance's view: the stray is past the grace.
        let later = try Coordinator(config: config, store: store, backend: backend, clock: { late })
        let destroyed = try await later.reconcile()
        try expect(destroyed == 1, "reconcile destroyed \(destroyed) keys, expected the one stray pending key")
        let left = try await backend.list(trustDomain: domain)
        try expect(left.map(\.ref) == [publishedRef], "after reconcile the backend holds \(left.map(\.ref)), expected \(publishedRef)")
        try expect(left.first?.mark == .published, "the registry's key is not marked published after reconcile")
        try expect(try await later.reconcile() == 0, "a second reconcile destroyed more")
        try await backend.destroy(ref: publishedRef)
    }

    func lostCreateAnswer(_ backend: any KeyBackend, _ domain: String) async throws {
        try await faults?.loseNextAnswer(.create)
        let key = try await backend.create(keyType: .ecP256, trustDomain: domain)
        let listed = try await backend.list(trustDomain: domain)
        try expect(listed.contains { $0.ref == key.ref }, "the key returned after a lost answer is not listed")
        // Whatever the lost attempt left is visible and pending: the reconciler can remove it.
        try expect(listed.allSatisfy { $0.ref == key.ref || $0.mark == .pending }, "a lost attempt left a non-pending key: \(listed)")
        let verdict = try await verify(backend, ref: key.ref, keyType: .ecP256, publicKey: key.publicKey)
        try expect(verdict.valid, "the key returned after a lost answer does not sign")
        for info in listed { try await backend.destroy(ref: info.ref) }
    }

    func throttling(_ backend: any KeyBackend, _ domain: String) async throws {
        let key = try await backend.create(keyType: .ecP256, trustDomain: domain)
        try await faults?.throttle(.sign, times: 2)
        let verdict = try await verify(backend, ref: key.ref, keyType: .ecP256, publicKey: key.publicKey)
        try expect(verdict.valid, "a signature after throttling does not verify")
        try await backend.destroy(ref: key.ref)
    }

    func permission(_ backend: any KeyBackend, _ domain: String) async throws {
        let key = try await backend.create(keyType: .ecP256, trustDomain: domain)
        try await faults?.deny(.sign)
        try await expectError("a denied sign", {
            _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([1]))
        }, where: { error in
            guard case .backendFailure(let failure) = error else { return false }
            return failure.kind == .denied && !(failure.permission ?? "").isEmpty && failure.message.contains(failure.permission ?? "?")
        })
        try await backend.destroy(ref: key.ref)
    }

    // MARK: Helpers

    struct Verdict: Decodable, CustomStringConvertible {
        var valid: Bool
        var alg: String
        var spireKid: String
        enum CodingKeys: String, CodingKey {
            case valid, alg
            case spireKid = "spire_kid"
        }
        var description: String { "valid \(valid), alg \(alg)" }
    }

    /// A compact JWS signed through `backend`, verified (and the key's kid computed) by `cryptography`.
    /// With `encoding` `.der` the EC signature goes into the JWS as DER, and is checked as DER.
    func verify(_ backend: any KeyBackend, ref: String, keyType: KeyType, publicKey: [UInt8], tamper: Bool = false,
                encoding: SignatureEncoding = .jose) async throws -> Verdict {
        let header = Base64URL.encode(Array(#"{"alg":"\#(keyType.alg)","typ":"JWT"}"#.utf8))
        let payload = Base64URL.encode(Array(#"{"sub":"spiffe://example.org/conformance","exp":1999999999}"#.utf8))
        let input = "\(header).\(payload)"
        let signature = try await backend.sign(ref: ref, keyType: keyType, digest: Digest.hash(keyType.hash, Array(input.utf8)),
                                               scheme: .pkcs1(keyType.hash), encoding: encoding)
        let signed = tamper ? "\(header).\(Base64URL.encode(Array(#"{"sub":"x"}"#.utf8)))" : input
        let request = try JSONSerialization.data(withJSONObject: ["jws": "\(signed).\(Base64URL.encode(signature))",
                                                                  "spki_der_b64": PEM.base64(publicKey),
                                                                  "der": encoding == .der] as [String: Any])
        return try JSONDecoder().decode(Verdict.self, from: try await PythonCheck.runRaw("verify_jws.py", stdin: request))
    }

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: message()) }
    }

    func require<T>(_ value: T?, _ message: String) throws -> T {
        guard let value else { throw Failure(description: message) }
        return value
    }

    func expectError(_ what: String, _ body: () async throws -> Void, where matches: (CoordinationError) -> Bool) async throws {
        do {
            try await body()
        } catch let error as CoordinationError {
            try expect(matches(error), "\(what) failed with an unexpected error: \(error)")
            return
        }
        throw Failure(description: "\(what) succeeded")
    }
}
