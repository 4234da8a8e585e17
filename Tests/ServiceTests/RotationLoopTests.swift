import Core
import Foundation
import Logging
@testable import Service
import Synchronization
import TestSupport
import Testing

/// The rotation loop every instance runs: a step mints what the schedule needs and refreshes
/// the JWKS; a failed step is counted and logged, and the loop keeps going.
@Suite struct RotationLoopTests {
    final class Changes: Sendable {
        let count = Atomic<Int>(0)
        func record() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    struct Fixture {
        let store = InMemoryStore()
        let backend = InMemoryBackend()
        let metrics = ServiceMetrics()
        let changes = Changes()
        let coordinator: Coordinator

        init() throws {
            var config = CoordinatorConfig(trustDomain: "loop.example", instanceID: "loop-test")
            config.keyTypes = [.ecP256]
            coordinator = try Coordinator(config: config, store: store, backend: backend)
        }

        func loop(interval: Duration = .seconds(3600)) -> RotationLoop {
            let changes = self.changes
            return RotationLoop(coordinator: coordinator, interval: interval, metrics: metrics,
                                logger: Logger(label: "rotation-loop-test", factory: { _ in SwiftLogNoOpLogHandler() })) {
                changes.record()
            }
        }
    }

    @Test func aStepMintsTheScheduledKeyAndRefreshes() async throws {
        let fixture = try Fixture()
        #expect(await fixture.loop().step())
        let snapshot = try await fixture.store.snapshot(trustDomain: "loop.example")
        #expect(snapshot.records.filter { $0.keyType == .ecP256 && $0.canSign }.count == 1)
        #expect(fixture.changes.value == 1)
        #expect(fixture.metrics.sample("keycoord_rotation_errors_total") == 0)
    }

    @Test func aFailedStepIsCountedAndDoesNotRefresh() async throws {
        let fixture = try Fixture()
        fixture.store.failNextUpdate(with: .storeUnavailable("connection reset"))
        #expect(await fixture.loop().step() == false)
        #expect(fixture.metrics.sample("keycoord_rotation_errors_total") == 1)
        #expect(fixture.changes.value == 0)
        #expect(await fixture.loop().step(), "the next step succeeds")
    }

    @Test func startRunsStepsOnTheIntervalAndStopEndsThem() async throws {
        let fixture = try Fixture()
        let loop = fixture.loop(interval: .milliseconds(20))
        loop.start()
        let deadline = ContinuousClock.now + .seconds(10)
        while fixture.changes.value < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        loop.stop()
        #expect(fixture.changes.value >= 3, "steps ran on the interval")
        let stopped = fixture.changes.value
        try await Task.sleep(for: .milliseconds(100))
        #expect(fixture.changes.value <= stopped + 1, "at most a step already under way finishes after stop")
    }
}
