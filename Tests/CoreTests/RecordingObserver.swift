import Core
import Foundation

/// A `CoordinatorObserver` that keeps every event, for assertions.
final class RecordingObserver: CoordinatorObserver, @unchecked Sendable {
    struct Taint: Equatable {
        let kid: String
        let caller: String
        let reason: String?
    }

    // Guarded by `lock`.
    private let lock = NSLock()
    private var storedOutcomes: [EnsureOutcome] = []
    private var storedEmergencies: [KeyType] = []
    private var storedRefusals: [String] = []
    private var storedMints: [KeyType] = []
    private var storedReconciled: [Int] = []
    private var storedDeferred: [String] = []
    private var storedTaints: [Taint] = []

    var outcomes: [EnsureOutcome] { read { storedOutcomes } }
    var emergencies: [KeyType] { read { storedEmergencies } }
    var refusals: [String] { read { storedRefusals } }
    var mints: [KeyType] { read { storedMints } }
    var reconciled: [Int] { read { storedReconciled } }
    var deferred: [String] { read { storedDeferred } }
    var taints: [Taint] { read { storedTaints } }

    func ensureCompleted(keyType: KeyType, outcome: EnsureOutcome) { write { storedOutcomes.append(outcome) } }
    func jwksRefused(reason: String) { write { storedRefusals.append(reason) } }
    func emergencyGap(keyType: KeyType) { write { storedEmergencies.append(keyType) } }
    func keysMinted(keyType: KeyType) { write { storedMints.append(keyType) } }
    func reconciled(destroyed: Int) { write { storedReconciled.append(destroyed) } }
    func deferredFailure(operation: String, error: any Error) { write { storedDeferred.append(operation) } }
    func keyTainted(kid: String, by caller: String, reason: String?) {
        write { storedTaints.append(Taint(kid: kid, caller: caller, reason: reason)) }
    }

    private func read<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func write(_ body: () -> Void) {
        lock.lock()
        body()
        lock.unlock()
    }
}
