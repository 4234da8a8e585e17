import Core
import Foundation
import Logging
import Synchronization

/// Runs the coordinator's rotation step on a fixed interval in every instance. The
/// coordinator takes a lock per key type, so running it everywhere is safe and keeps the
/// schedule alive whichever instances are up.
final class RotationLoop: Sendable {
    private let coordinator: Coordinator
    private let interval: Duration
    private let metrics: ServiceMetrics
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let onChange: @Sendable () async -> Void

    init(coordinator: Coordinator, interval: Duration, metrics: ServiceMetrics, logger: Logger,
         onChange: @escaping @Sendable () async -> Void) {
        self.coordinator = coordinator
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
        self.onChange = onChange
    }

    /// One step now; returns whether it succeeded.
    @discardableResult
    func step() async -> Bool {
        do {
            try await coordinator.tick()
            await onChange()
            return true
        } catch {
            metrics.rotationFailed()
            logger.error("rotation step failed", metadata: ["error": .string("\(error)")])
            return false
        }
    }

    func start() {
        let loop = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                try? await Task.sleep(for: self.interval)
                if Task.isCancelled { return }
                await self.step()
            }
        }
        task.withLock { $0 = loop }
    }

    func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }
}
