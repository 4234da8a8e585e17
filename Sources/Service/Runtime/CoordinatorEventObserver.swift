import Core
import Logging

/// The coordinator's observer: everything goes to the metrics, and what needs an operator
/// is also logged — an emergency activation (servers sign with a key relying parties may
/// not have fetched yet) and a failure left for the next tick or the reconciler.
final class CoordinatorEventObserver: CoordinatorObserver {
    private let metrics: ServiceMetrics
    private let logger: Logger

    init(metrics: ServiceMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func ensureCompleted(keyType: KeyType, outcome: EnsureOutcome) { metrics.ensureCompleted(keyType: keyType, outcome: outcome) }
    func lockWaited(name: String, duration: Duration) { metrics.lockWaited(name: name, duration: duration) }
    func jwksRefused(reason: String) { metrics.jwksRefused(reason: reason) }
    func keysMinted(keyType: KeyType) { metrics.keysMinted(keyType: keyType) }
    func reconciled(destroyed: Int) { metrics.reconciled(destroyed: destroyed) }

    func emergencyGap(keyType: KeyType) {
        metrics.emergencyGap(keyType: keyType)
        logger.error("emergency activation: servers now sign with a key that has not been in the JWKS for publish-lead",
                     metadata: ["key_type": .string(keyType.rawValue)])
    }

    func keyLost(kid: String, keyType: KeyType, reason: String) {
        metrics.keyLost(keyType: keyType)
        logger.error("key lost: tainted and replaced", metadata: [
            "kid": .string(kid), "key_type": .string(keyType.rawValue), "reason": .string(reason),
        ])
    }

    func keysAdopted(kids: [String]) {
        metrics.keysAdopted(count: kids.count)
        logger.error("the registry lacked keys the backend marks published (writes lost?); adopted back, tainted",
                     metadata: ["kids": .string(kids.joined(separator: ","))])
    }

    func deferredFailure(operation: String, error: any Error) {
        logger.warning("deferred step failed; the next ensure, tick or reconciliation retries it",
                       metadata: ["operation": .string(operation), "error": .string("\(error)")])
    }
}
