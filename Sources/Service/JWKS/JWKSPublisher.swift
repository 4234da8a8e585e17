import Core
import Crypto
import Foundation
import HTTP
import HTTPTypes
import Logging
import Synchronization

/// Keeps the JWKS and discovery responses pre-rendered and follows the registry.
///
/// The hot path takes no lock: each rendering is handed to `install` (PublicAPI puts it
/// into the router as the JWKS and discovery handlers, which the event loops pick up from
/// their route table snapshots), and a request answers from the immutable `Rendered` its
/// handler holds — pre-built bytes, no JSON encoding, no store access. A follower
/// task waits for registry changes from any instance (`waitForChange`) and re-renders
/// at least once a second so keys leave the JWKS on time. While the store is down the
/// last rendering keeps being served.
///
/// Refreshes race (the follower, a refresh after this instance's own write), so a
/// rendering never replaces one of a later registry sequence: a read that started before
/// the current rendering was stored may have seen an older registry, and is dropped. A
/// read that started after it and still sees a lower sequence means the store itself went
/// back (a lossy failover): that is logged and counted, the records this instance last
/// served are put back (`Coordinator.restore`), and only then is the healed registry
/// served. `/readyz` reports a regression that could not be healed.
final class JWKSPublisher: Sendable {
    /// A class, so the request path copies one reference out of the lock, not every
    /// member (each a retain and a release).
    final class Rendered: Sendable {
        let ok: PrerenderedResponse
        let notModified: PrerenderedResponse
        let discovery: PrerenderedResponse
        let etag: String
        let document: JWKSDocument
        let sequence: UInt64
        let records: [KeyRecord]

        init(ok: PrerenderedResponse, notModified: PrerenderedResponse, discovery: PrerenderedResponse, etag: String,
             document: JWKSDocument, sequence: UInt64, records: [KeyRecord]) {
            self.ok = ok
            self.notModified = notModified
            self.discovery = discovery
            self.etag = etag
            self.document = document
            self.sequence = sequence
            self.records = records
        }
    }

    /// A registry that went back below what this instance had served.
    struct Regression: Sendable {
        let servedSequence: UInt64
        let storeSequence: UInt64
        var healed: Bool
    }

    /// What one rendering attempt did.
    private enum RenderOutcome {
        case stored, dropped
        /// The store is behind what was served; `served` is the last rendering.
        case wentBack(served: Rendered)
    }

    /// The served rendering and the read tickets that order refreshes.
    private struct State {
        var rendered: Rendered?
        /// Called with each rendering as it is stored, in the order they are stored.
        var install: (@Sendable (Rendered?) -> Void)?
        /// Incremented as each refresh starts its registry read.
        var readsStarted: UInt64 = 0
        /// `readsStarted` when `rendered` was stored: a read with a larger ticket began after it.
        var storedAtTicket: UInt64 = 0
        var regression: Regression?
    }

    private let coordinator: Coordinator
    private let store: any CoordinationStore
    private let config: ServiceConfig
    private let metrics: ServiceMetrics
    private let logger: Logger
    private let state = Mutex(State())
    private let storeError = Mutex<String?>("not checked yet")
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(coordinator: Coordinator, store: any CoordinationStore, config: ServiceConfig, metrics: ServiceMetrics, logger: Logger) {
        self.coordinator = coordinator
        self.store = store
        self.config = config
        self.metrics = metrics
        self.logger = logger
    }

    /// The latest rendering, nil before the first successful read of the registry.
    var rendered: Rendered? { state.withLock { $0.rendered } }

    /// The last time the registry went back, if it did.
    var regression: Regression? { state.withLock { $0.regression } }

    /// Why the last registry read failed, nil when it succeeded.
    var lastStoreError: String? { storeError.withLock { $0 } }

    /// Reads the registry once (so the first request already sees it), then follows it.
    func start() async {
        await refresh(force: true)
        // Holds the publisher strongly until `stop()` cancels it: a weak reference would give
        // the publisher a side table, and every retain of it on the JWKS request path would
        // take the runtime's slow path.
        let loop = Task { [self] in
            var lastFailure: String?
            while !Task.isCancelled {
                let after = self.rendered?.sequence ?? 0
                do {
                    _ = try await self.store.waitForChange(trustDomain: self.config.trustDomain, after: after, timeout: .seconds(1))
                } catch {
                    let message = "\(error)"
                    if message != lastFailure { self.logger.warning("registry follow failed", metadata: ["error": .string(message)]) }
                    lastFailure = message
                    self.storeError.withLock { $0 = message }
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                lastFailure = nil
                await self.refresh(force: false)
            }
        }
        task.withLock { $0 = loop }
    }

    func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }

    /// Re-reads the registry and swaps the rendering when the bytes changed. Called by the
    /// follower and after this instance's own writes, so a caller reads its write at once.
    func refresh(force: Bool) async {
        guard case .wentBack(let served)? = await read(force: force, acceptLower: false) else { return }
        let behind = (try? await coordinator.snapshot().sequence) ?? 0
        logger.error("registry went back", metadata: [
            "served_sequence": .stringConvertible(served.sequence), "store_sequence": .stringConvertible(behind),
        ])
        metrics.registryWentBack()
        var regression = Regression(servedSequence: served.sequence, storeSequence: behind, healed: false)
        do {
            let restored = try await coordinator.restore(served.records)
            regression.healed = true
            logger.notice("registry healed from the last served records", metadata: ["restored": .stringConvertible(restored)])
        } catch {
            logger.error("registry could not be healed", metadata: ["error": .string("\(error)")])
        }
        state.withLock { $0.regression = regression }
        _ = await read(force: true, acceptLower: true)
    }

    /// One registry read and rendering; nil when the read failed.
    private func read(force: Bool, acceptLower: Bool) async -> RenderOutcome? {
        let ticket = state.withLock { state -> UInt64 in
            state.readsStarted += 1
            return state.readsStarted
        }
        do {
            let snapshot = try await coordinator.snapshot()
            storeError.withLock { $0 = nil }
            metrics.storeAnswered(true)
            return render(snapshot, ticket: ticket, force: force, acceptLower: acceptLower)
        } catch {
            storeError.withLock { $0 = "\(error)" }
            metrics.storeAnswered(false)
            return nil
        }
    }

    /// Refreshes only when the current rendering lacks one of `kids` (cheap on the ensure
    /// fast path, where nothing changed).
    func refreshUnlessServing(_ kids: [String]) async {
        let served = state.withLock { $0.rendered.map { Set($0.document.kids) } } ?? []
        if !kids.allSatisfy(served.contains) { await refresh(force: false) }
    }

    private func render(_ snapshot: RegistrySnapshot, ticket: UInt64, force: Bool, acceptLower: Bool) -> RenderOutcome {
        let document = coordinator.jwks(from: snapshot)
        if !force, let old = rendered, old.sequence == snapshot.sequence, old.document.body == document.body { return .dropped }
        let etag = "\"" + Base64URL.encode(Digest.sha256(document.body).prefix(16)) + "\""
        let maxAge = Int(config.effectiveJWKSMaxAge.timeInterval)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "public, max-age=\(maxAge)"
        fields[.eTag] = etag
        let ok = PrerenderedResponse(status: .ok, headerFields: fields, body: document.body)
        var notModifiedFields = HTTPFields()
        notModifiedFields[.cacheControl] = "public, max-age=\(maxAge)"
        notModifiedFields[.eTag] = etag
        let notModified = PrerenderedResponse(status: .notModified, headerFields: notModifiedFields, body: [])
        var discoveryFields = HTTPFields()
        discoveryFields[.contentType] = "application/json"
        discoveryFields[.cacheControl] = "public, max-age=\(maxAge)"
        let issuer = config.resolvedIssuer
        let includedTypes = Set(snapshot.records.filter { document.kids.contains($0.kid) }.map(\.keyType))
        let discoveryBody = OIDCDiscoveryDocument.render(issuer: issuer, jwksURI: issuer + "/keys",
                                                         keyTypes: KeyType.allCases.filter(includedTypes.contains))
        let discovery = PrerenderedResponse(status: .ok, headerFields: discoveryFields, body: discoveryBody)
        let new = Rendered(ok: ok, notModified: notModified, discovery: discovery, etag: etag, document: document,
                           sequence: snapshot.sequence, records: snapshot.records)
        let outcome = state.withLock { state -> RenderOutcome in
            guard let old = state.rendered, old.sequence > snapshot.sequence else {
                state.rendered = new
                state.storedAtTicket = state.readsStarted
                state.install?(new)
                return .stored
            }
            // Began before `old` was stored: an older read that lost the race.
            guard ticket > state.storedAtTicket else { return .dropped }
            // The store went back: keep serving `old` until the registry is healed.
            guard acceptLower else { return .wentBack(served: old) }
            state.rendered = new
            state.storedAtTicket = state.readsStarted
            state.install?(new)
            return .stored
        }
        if case .stored = outcome {
            metrics.registryChanged(records: snapshot.records, jwks: document, sequence: snapshot.sequence)
        }
        return outcome
    }

    /// Calls `install` with the current rendering (nil before the first) and then with each
    /// new one, in order, under the publisher's lock: `install` must be quick and must not
    /// call the publisher.
    func install(_ install: @escaping @Sendable (Rendered?) -> Void) {
        state.withLock { state in
            state.install = install
            install(state.rendered)
        }
    }

    /// GET/HEAD of the JWKS from `rendered`: 200 with the pre-rendered set, or 304 when the
    /// caller's `If-None-Match` names its ETag. 503 before the registry was ever read.
    static func jwksResponse(_ request: HTTPServerRequest, from rendered: Rendered?) -> HTTPServerResponse {
        guard let rendered else { return notReady }
        // A walk over the few fields a scraper sends, instead of `HTTPFields`' subscript
        // (which joins repeated fields into a new string on every request).
        for field in request.headerFields where field.name == .ifNoneMatch {
            if ETagMatch.matches(field.value, etag: rendered.etag) { return .prerendered(rendered.notModified) }
        }
        return .prerendered(rendered.ok)
    }

    static func discoveryResponse(from rendered: Rendered?) -> HTTPServerResponse {
        guard let rendered else { return notReady }
        return .prerendered(rendered.discovery)
    }

    private static let notReady = Problem.response(status: .serviceUnavailable, type: "not-ready", title: "Not ready",
                                                   detail: "the key registry has not been read yet; retry shortly")
}

/// `If-None-Match` evaluation (RFC 9110 §13.1.2): a list of entity tags or `*`, compared
/// weakly.
enum ETagMatch {
    static func matches(_ header: String, etag: String) -> Bool {
        let wanted = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for item in header.split(separator: ",") {
            var tag = item.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == wanted { return true }
        }
        return false
    }
}
