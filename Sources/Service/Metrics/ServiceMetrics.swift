import Core
import HTTP
import HTTPTypes
import Transport

/// keycoord's metrics: the names operators alert on. One instance per service; it
/// observes the HTTP server and the coordinator.
public final class ServiceMetrics: Sendable, HTTPServerObserver, CoordinatorObserver {
    public let registry = MetricsRegistry()

    static let latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public init() {
        let r = registry
        r.register("keycoord_http_requests_total", help: "HTTP requests answered, by listener, route, method and status.",
                   kind: .counter, labels: ["listener", "route", "method", "status"])
        r.register("keycoord_http_request_duration_seconds", help: "Time from a complete request to its response, by listener and route.",
                   kind: .histogram, labels: ["listener", "route"], buckets: Self.latencyBuckets)
        r.register("keycoord_http_connections_open", help: "Open client connections, by listener.", kind: .gauge, labels: ["listener"])
        r.register("keycoord_http_connections_rejected_total", help: "Connections refused at accept, by listener and reason.",
                   kind: .counter, labels: ["listener", "reason"])
        r.register("keycoord_tls_reloads_total", help: "TLS certificate reloads after a file change, by listener and outcome (ok, failed).",
                   kind: .counter, labels: ["listener", "outcome"])
        r.register("keycoord_token_file_refusals_total", help: "Token file versions refused (unreadable, empty, a short token), by file; their tokens are not accepted.",
                   kind: .counter, labels: ["file"])
        r.register("keycoord_keys", help: "Keys in the registry, by key type and state (tainted counted apart).",
                   kind: .gauge, labels: ["key_type", "state"])
        r.register("keycoord_jwks_keys", help: "Keys in the served JWKS, by family.", kind: .gauge, labels: ["family"])
        r.register("keycoord_jwks_bytes", help: "Size of the served JWKS document in bytes.", kind: .gauge)
        r.register("keycoord_jwks_refused_total", help: "Changes refused because the JWKS would pass a limit, by reason.",
                   kind: .counter, labels: ["reason"])
        r.register("keycoord_ensure_total", help: "Ensure calls answered, by key type and outcome.",
                   kind: .counter, labels: ["key_type", "outcome"])
        r.register("keycoord_lock_wait_seconds", help: "Time spent waiting for keycoord's own rotation locks.",
                   kind: .histogram, buckets: Self.latencyBuckets)
        r.register("keycoord_keys_minted_total", help: "Keys minted through the backend, by key type.",
                   kind: .counter, labels: ["key_type"])
        r.register("keycoord_emergency_gaps_total", help: "Activations of a key not yet in the JWKS for publish-lead (a taint, revoke or outage left nothing ready), by key type.",
                   kind: .counter, labels: ["key_type"])
        r.register("keycoord_keys_adopted_total",
                   help: "Published backend keys the registry had lost, put back (tainted, retired) by the reconciler instead of deleted.",
                   kind: .counter)
        r.register("keycoord_reconciled_keys_total", help: "Backend keys the reconciler deleted: never published, revoked, or past their lifetime.",
                   kind: .counter)
        r.register("keycoord_keys_lost_total", help: "Keys the backend no longer had (a deleted key file), tainted and replaced, by key type.",
                   kind: .counter, labels: ["key_type"])
        r.register("keycoord_rotation_errors_total", help: "Rotation loop steps that failed.", kind: .counter)
        r.register("keycoord_store_up", help: "1 when the coordination store answered the last check.", kind: .gauge)
        r.register("keycoord_registry_sequence", help: "Sequence of the registry snapshot being served.", kind: .gauge)
        r.register("keycoord_registry_regressions_total",
                   help: "Times the store's registry sequence went below the one served (writes lost in a failover).", kind: .counter)
    }

    // MARK: HTTPServerObserver

    public func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {
        let route = routeTemplate ?? "unmatched"
        registry.add("keycoord_http_requests_total", [listener, route, method.rawValue, String(status)])
        registry.observe("keycoord_http_request_duration_seconds", [listener, route], duration.timeInterval)
    }

    public func connectionOpened(listener: String) { registry.add("keycoord_http_connections_open", [listener], 1) }
    public func connectionClosed(listener: String) { registry.add("keycoord_http_connections_open", [listener], -1) }
    public func connectionRejected(listener: String, reason: String) {
        registry.add("keycoord_http_connections_rejected_total", [listener, reason])
    }

    public func tlsContextReloaded(listener: String, error: TLSError?) {
        registry.add("keycoord_tls_reloads_total", [listener, error == nil ? "ok" : "failed"])
    }

    func tokenFileRefused(path: String) { registry.add("keycoord_token_file_refusals_total", [path]) }

    // MARK: CoordinatorObserver

    public func ensureCompleted(keyType: KeyType, outcome: EnsureOutcome) {
        registry.add("keycoord_ensure_total", [keyType.rawValue, outcome.rawValue])
    }
    public func lockWaited(name: String, duration: Duration) {
        registry.observe("keycoord_lock_wait_seconds", [], duration.timeInterval)
    }
    public func jwksRefused(reason: String) { registry.add("keycoord_jwks_refused_total", [reason]) }
    public func emergencyGap(keyType: KeyType) { registry.add("keycoord_emergency_gaps_total", [keyType.rawValue]) }
    public func keysMinted(keyType: KeyType) { registry.add("keycoord_keys_minted_total", [keyType.rawValue]) }
    public func keyLost(kid: String, keyType: KeyType, reason: String) { keyLost(keyType: keyType) }
    public func keysAdopted(kids: [String]) { keysAdopted(count: kids.count) }
    func keysAdopted(count: Int) { registry.add("keycoord_keys_adopted_total", [], Double(count)) }
    func keyLost(keyType: KeyType) { registry.add("keycoord_keys_lost_total", [keyType.rawValue]) }
    public func reconciled(destroyed: Int) { registry.add("keycoord_reconciled_keys_total", [], Double(destroyed)) }

    // MARK: Registry state

    /// Refreshes the gauges that describe the served registry and JWKS.
    func registryChanged(records: [KeyRecord], jwks: JWKSDocument, sequence: UInt64) {
        var byState: [[String]: Double] = [:]
        for type in KeyType.allCases {
            for state in KeyState.allCases { byState[[type.rawValue, state.rawValue]] = 0 }
            byState[[type.rawValue, "tainted"]] = 0
        }
        for record in records {
            byState[[record.keyType.rawValue, record.state.rawValue], default: 0] += 1
            if record.tainted { byState[[record.keyType.rawValue, "tainted"], default: 0] += 1 }
        }
        registry.replaceAll("keycoord_keys", byState)
        var families: [[String]: Double] = [[KeyFamily.ec.rawValue]: 0, [KeyFamily.rsa.rawValue]: 0]
        for (family, count) in jwks.keyCount { families[[family.rawValue]] = Double(count) }
        registry.replaceAll("keycoord_jwks_keys", families)
        registry.set("keycoord_jwks_bytes", [], Double(jwks.body.count))
        registry.set("keycoord_registry_sequence", [], Double(sequence))
    }
}
