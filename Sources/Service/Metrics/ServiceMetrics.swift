import Core
import HTTP
import HTTPTypes
import Prometheus
import Transport

/// keycoord's metrics: the names operators alert on, in a swift-prometheus registry that
/// `GET /metrics` renders. One instance per service; it observes the HTTP server and the
/// coordinator. The registry is passed in, never global: `keycoord serve` hands the same
/// registry to swift-metrics' `MetricsSystem`, so libraries' metrics appear beside these,
/// while tests give each service a registry of its own.
///
/// keycoord's own series are made on the registry directly (not through the swift-metrics
/// facade) so that each keeps its `# HELP` text. The two request series are the exception:
/// they are kept per event loop (`RequestSeries`) and appended to the registry's text.
public final class ServiceMetrics: Sendable, HTTPServerObserver, CoordinatorObserver {
    public let registry: PrometheusCollectorRegistry

    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// The request series, a shard per event loop (`RequestSeries`).
    private let requests: RequestSeries

    private let connectionsOpen: LabeledSeries<Gauge>
    private let connectionsRejected: LabeledSeries<Counter>
    private let tlsReloads: LabeledSeries<Counter>
    private let tokenFileRefusals: LabeledSeries<Counter>
    private let jwksRefusals: LabeledSeries<Counter>
    private let ensures: LabeledSeries<Counter>
    private let minted: LabeledSeries<Counter>
    private let emergencyGaps: LabeledSeries<Counter>
    private let lost: LabeledSeries<Counter>
    private let keysByState: [KeyType: [String: Gauge]]
    private let jwksKeys: [KeyFamily: Gauge]
    private let jwksBytes: Gauge
    private let adopted: Counter
    private let reconciledKeys: Counter
    private let rotationErrors: Counter
    private let storeUp: Gauge
    private let registrySequence: Gauge
    private let registryRegressions: Counter
    private let lockWait: DurationHistogram

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let r = registry
        requests = RequestSeries(buckets: Self.latencyBuckets)
        connectionsOpen = LabeledSeries(["listener"]) {
            r.gauge("keycoord_http_connections_open", labels: $0, help: "Open client connections, by listener.")
        }
        connectionsRejected = LabeledSeries(["listener", "reason"]) {
            r.counter("keycoord_http_connections_rejected_total", labels: $0,
                          help: "Connections refused at accept, by listener and reason.")
        }
        tlsReloads = LabeledSeries(["listener", "outcome"]) {
            r.counter("keycoord_tls_reloads_total", labels: $0,
                          help: "TLS certificate reloads after a file change, by listener and outcome (ok, failed).")
        }
        tokenFileRefusals = LabeledSeries(["file"]) {
            r.counter("keycoord_token_file_refusals_total", labels: $0,
                          help: "Token file versions refused (unreadable, empty, a short token), by file; their tokens are not accepted.")
        }
        jwksRefusals = LabeledSeries(["reason"]) {
            r.counter("keycoord_jwks_refused_total", labels: $0,
                          help: "Changes refused because the JWKS would pass a limit, by reason.")
        }
        ensures = LabeledSeries(["key_type", "outcome"]) {
            r.counter("keycoord_ensure_total", labels: $0, help: "Ensure calls answered, by key type and outcome.")
        }
        minted = LabeledSeries(["key_type"]) {
            r.counter("keycoord_keys_minted_total", labels: $0, help: "Keys minted through the backend, by key type.")
        }
        emergencyGaps = LabeledSeries(["key_type"]) {
            r.counter("keycoord_emergency_gaps_total", labels: $0,
                          help: "Activations of a key not yet in the JWKS for publish-lead (a taint, revoke or outage left nothing ready), by key type.")
        }
        lost = LabeledSeries(["key_type"]) {
            r.counter("keycoord_keys_lost_total", labels: $0,
                          help: "Keys the backend no longer had (a deleted key file), tainted and replaced, by key type.")
        }
        // Every key type and state from the start, so a count that drops to zero reads 0.
        var byState: [KeyType: [String: Gauge]] = [:]
        for type in KeyType.allCases {
            for state in KeyState.allCases.map(\.rawValue) + ["tainted"] {
                byState[type, default: [:]][state] = r.gauge(
                    "keycoord_keys", labels: [("key_type", type.rawValue), ("state", state)],
                    help: "Keys in the registry, by key type and state (tainted counted apart).")
            }
        }
        keysByState = byState
        var families: [KeyFamily: Gauge] = [:]
        for family in [KeyFamily.ec, .rsa] {
            families[family] = r.gauge("keycoord_jwks_keys", labels: [("family", family.rawValue)],
                                           help: "Keys in the served JWKS, by family.")
        }
        jwksKeys = families
        jwksBytes = r.gauge("keycoord_jwks_bytes", help: "Size of the served JWKS document in bytes.")
        adopted = r.counter(
            "keycoord_keys_adopted_total",
            help: "Published backend keys the registry had lost, put back (tainted, retired) by the reconciler instead of deleted.")
        reconciledKeys = r.counter("keycoord_reconciled_keys_total",
                                       help: "Backend keys the reconciler deleted: never published, revoked, or past their lifetime.")
        rotationErrors = r.counter("keycoord_rotation_errors_total", help: "Rotation loop steps that failed.")
        storeUp = r.gauge("keycoord_store_up", help: "1 when the coordination store answered the last check.")
        registrySequence = r.gauge("keycoord_registry_sequence", help: "Sequence of the registry snapshot being served.")
        registryRegressions = r.counter(
            "keycoord_registry_regressions_total",
            help: "Times the store's registry sequence went below the one served (writes lost in a failover).")
        lockWait = r.durationHistogram("keycoord_lock_wait_seconds", buckets: Self.latencyBuckets,
                                           help: "Time spent waiting for keycoord's own rotation locks.")
    }

    /// The text exposition format (version 0.0.4), as `GET /metrics` serves it.
    public func render() -> [UInt8] {
        var text = registry.emitToBuffer()
        requests.render(into: &text)
        return text
    }

    // MARK: HTTPServerObserver

    /// A request answered off the event loops' recorders (tests, embedders): counted in the
    /// listener's shared shard.
    public func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {
        requests.sharedShard(listener: listener).requestCompleted(method: method, routeTemplate: routeTemplate, status: status,
                                                                  nanoseconds: RequestSeries.nanoseconds(duration))
    }

    /// Each event loop's own shard for `listener`: what the server reports requests to.
    public func requestRecorder(listener: String) -> any HTTPRequestRecorder {
        requests.makeShard(listener: listener)
    }

    public func connectionOpened(listener: String) { connectionsOpen[listener].increment() }
    public func connectionClosed(listener: String) { connectionsOpen[listener].decrement() }
    public func connectionRejected(listener: String, reason: String) { connectionsRejected[listener, reason].increment() }

    public func tlsContextReloaded(listener: String, error: TLSError?) {
        tlsReloads[listener, error == nil ? "ok" : "failed"].increment()
    }

    func tokenFileRefused(path: String) { tokenFileRefusals[path].increment() }

    // MARK: CoordinatorObserver

    public func ensureCompleted(keyType: KeyType, outcome: EnsureOutcome) { ensures[keyType.rawValue, outcome.rawValue].increment() }
    public func lockWaited(name: String, duration: Duration) { lockWait.record(duration) }
    public func jwksRefused(reason: String) { jwksRefusals[reason].increment() }
    public func emergencyGap(keyType: KeyType) { emergencyGaps[keyType.rawValue].increment() }
    public func keysMinted(keyType: KeyType) { minted[keyType.rawValue].increment() }
    public func keyLost(kid: String, keyType: KeyType, reason: String) { keyLost(keyType: keyType) }
    public func keysAdopted(kids: [String]) { keysAdopted(count: kids.count) }
    func keysAdopted(count: Int) { adopted.increment(by: Int64(count)) }
    func keyLost(keyType: KeyType) { lost[keyType.rawValue].increment() }
    public func reconciled(destroyed: Int) { reconciledKeys.increment(by: Int64(destroyed)) }

    // MARK: Service state

    func rotationFailed() { rotationErrors.increment() }
    func storeAnswered(_ up: Bool) { storeUp.set(to: up ? 1 : 0) }
    func registryWentBack() { registryRegressions.increment() }

    /// Refreshes the gauges that describe the served registry and JWKS.
    func registryChanged(records: [KeyRecord], jwks: JWKSDocument, sequence: UInt64) {
        var counts: [KeyType: [String: Int]] = [:]
        for record in records {
            counts[record.keyType, default: [:]][record.state.rawValue, default: 0] += 1
            if record.tainted { counts[record.keyType, default: [:]]["tainted", default: 0] += 1 }
        }
        for (type, gauges) in keysByState {
            for (state, gauge) in gauges { gauge.set(to: Double(counts[type]?[state] ?? 0)) }
        }
        for (family, gauge) in jwksKeys { gauge.set(to: Double(jwks.keyCount[family] ?? 0)) }
        jwksBytes.set(to: Double(jwks.body.count))
        registrySequence.set(to: Double(sequence))
    }
}
