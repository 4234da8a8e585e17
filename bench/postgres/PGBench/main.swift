import Core
import Foundation
import Stores

// Load client for PostgresStore: lock acquire+release cycles at several concurrency levels,
// and how fast a waitForChange on one instance wakes after a write on another.
// Usage: PGBench --url URL [--clients 1,16,64] [--seconds 10]
// Prints Markdown table rows.

struct Options {
    var url = ""
    var clients = [1, 16, 64]
    var seconds = 10.0

    init(_ arguments: [String]) throws {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { throw BenchError("missing value for \(flag)") }
            switch flag {
            case "--url": url = value
            case "--clients":
                clients = try value.split(separator: ",").map {
                    guard let n = Int($0), n > 0 else { throw BenchError("bad client count \($0)") }
                    return n
                }
            case "--seconds":
                guard let s = Double(value), s > 0 else { throw BenchError("bad seconds \(value)") }
                seconds = s
            default: throw BenchError("unknown flag \(flag)")
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

/// Each client cycles acquire (no wait) + release on its own lock name until the deadline.
func lockCycles(url: String, clients: Int, seconds: Double) async throws -> String {
    // Lease sessions are reused up to poolSize; size it to the concurrency so the run
    // measures lock cycles, not connection setup.
    let store = try await PostgresStore(url: url, instanceID: "pgbench", poolSize: max(4, clients))
    let clock = ContinuousClock()
    let warmup = clock.now + .milliseconds(500)
    let deadline = warmup + .milliseconds(Int64(seconds * 1000))
    let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
        for client in 0..<clients {
            group.addTask {
                var latencies: [Double] = []
                let name = "bench:client-\(client)"
                while clock.now < deadline {
                    let started = clock.now
                    let lease = try await store.acquire(lock: name, holder: "bench", ttl: .seconds(30), wait: .zero)
                    try await store.release(lock: name, leaseID: lease.leaseID)
                    if started >= warmup { latencies.append(milliseconds(clock.now - started)) }
                }
                return latencies
            }
        }
        return try await group.reduce(into: [Double]()) { $0 += $1 }
    }
    await store.close()
    let sorted = samples.sorted()
    return String(format: "| PostgresStore | %d | %d | %.0f | %.2f | %.2f |", clients, sorted.count,
                  Double(sorted.count) / seconds, percentile(sorted, 0.5), percentile(sorted, 0.99))
}

/// Instance B waits for a change; instance A commits one; time from A's commit returning to
/// B's wakeup.
func changeWakeups(url: String, rounds: Int) async throws -> String {
    let writer = try await PostgresStore(url: url, instanceID: "pgbench-a")
    let follower = try await PostgresStore(url: url, instanceID: "pgbench-b")
    let clock = ContinuousClock()
    let trustDomain = "bench-\(UUID().uuidString.prefix(8))"
    var latencies: [Double] = []
    while !follower.isFollowingChanges { try await Task.sleep(for: .milliseconds(50)) }
    for round in 0..<rounds {
        async let woke: ContinuousClock.Instant = {
            _ = try await follower.waitForChange(trustDomain: trustDomain, after: UInt64(round), timeout: .seconds(10))
            return clock.now
        }()
        try await Task.sleep(for: .milliseconds(20))
        let now = Date()
        _ = try await writer.update(trustDomain: trustDomain, fence: nil) { records in
            records.append(KeyRecord(trustDomain: trustDomain, kid: "k\(round)", keyType: .ecP256, publicKey: [1, 2, 3],
                                     backend: "external", backendRef: nil, createdAt: now, publishedAt: now,
                                     notAfter: now.addingTimeInterval(3600), state: .published, createdBy: "bench"))
        }
        let committed = clock.now
        latencies.append(milliseconds(try await woke - committed))
    }
    await writer.close()
    await follower.close()
    let sorted = latencies.sorted()
    return String(format: "waitForChange wakeup after another instance's update (%d rounds): p50 %.2f ms, p99 %.2f ms, max %.2f ms.",
                  rounds, percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.last ?? 0)
}

do {
    let options = try Options(CommandLine.arguments)
    print("| client | concurrent clients | cycles | cycles/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for clients in options.clients {
        print(try await lockCycles(url: options.url, clients: clients, seconds: options.seconds))
    }
    print("")
    print(try await changeWakeups(url: options.url, rounds: 50))
} catch {
    FileHandle.standardError.write(Data("PGBench: \(error)\n".utf8))
    exit(1)
}
