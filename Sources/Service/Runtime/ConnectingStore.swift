import Core
import Foundation
import Logging
import Synchronization

/// Stands in for a store that could not be reached at start (PostgreSQL down, DNS not
/// ready yet): every call fails with `.storeUnavailable` naming the last connection error
/// while a background task keeps connecting with backoff; once connected, calls go to
/// the real store. So a sidecar that starts before its database serves its listeners,
/// reports not ready, and recovers by itself instead of crash-looping.
final class ConnectingStore: CoordinationStore {
    private struct State: Sendable {
        var store: (any CoordinationStore)?
        var lastError: String
        var task: Task<Void, Never>?
        var closed = false
    }

    private let state: Mutex<State>
    private let logger: Logger

    init(firstError: String, logger: Logger, retry maxDelay: Duration = .seconds(10),
         connect: @escaping @Sendable () async throws -> any CoordinationStore) {
        self.state = Mutex(State(store: nil, lastError: firstError))
        self.logger = logger
        let task = Task { [weak self] in
            var delay: Duration = .milliseconds(500)
            while !Task.isCancelled {
                try? await Task.sleep(for: delay)
                do {
                    let store = try await connect()
                    guard let self else { await store.close(); return }
                    let keep = self.state.withLock { state -> Bool in
                        guard !state.closed else { return false }
                        state.store = store
                        return true
                    }
                    if keep {
                        self.logger.notice("coordination store connected")
                    } else {
                        await store.close()
                    }
                    return
                } catch {
                    self?.state.withLock { $0.lastError = "\(error)" }
                    delay = min(delay * 2, maxDelay)
                }
            }
        }
        state.withLock { $0.task = task }
    }

    private func store() throws -> any CoordinationStore {
        try state.withLock { state in
            guard let store = state.store else {
                throw CoordinationError.storeUnavailable("coordination store not connected yet: \(state.lastError)")
            }
            return store
        }
    }

    func acquire(lock name: String, holder: String, ttl: Duration, wait: Duration) async throws -> LockLease {
        try await store().acquire(lock: name, holder: holder, ttl: ttl, wait: wait)
    }

    func renew(lock name: String, leaseID: String, ttl: Duration) async throws -> LockLease {
        try await store().renew(lock: name, leaseID: leaseID, ttl: ttl)
    }

    func release(lock name: String, leaseID: String) async throws {
        try await store().release(lock: name, leaseID: leaseID)
    }

    func status(lock name: String) async throws -> LockStatus {
        try await store().status(lock: name)
    }

    func snapshot(trustDomain: String) async throws -> RegistrySnapshot {
        try await store().snapshot(trustDomain: trustDomain)
    }

    func update<T: Sendable>(trustDomain: String, fence: Fence?,
                             _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot) {
        try await store().update(trustDomain: trustDomain, fence: fence, mutate)
    }

    func registryIdentity(trustDomain: String) async throws -> String {
        try await store().registryIdentity(trustDomain: trustDomain)
    }

    func waitForChange(trustDomain: String, after: UInt64, timeout: Duration) async throws -> UInt64 {
        try await store().waitForChange(trustDomain: trustDomain, after: after, timeout: timeout)
    }

    func healthCheck() async -> Result<Void, CoordinationError> {
        do {
            return try await store().healthCheck()
        } catch let error as CoordinationError {
            return .failure(error)
        } catch {
            return .failure(.storeUnavailable("\(error)"))
        }
    }

    func close() async {
        let (task, store) = state.withLock { state in
            state.closed = true
            return (state.task, state.store)
        }
        task?.cancel()
        await store?.close()
    }
}
