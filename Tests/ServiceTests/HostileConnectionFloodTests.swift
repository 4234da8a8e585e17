import Foundation
import TestSupport
import XCTest

/// Ten thousand idle connections against the whole service: all are held, the ones beyond
/// `max-connections` are refused at once, held ones are still served, and a well-behaved
/// client on a keep-alive connection keeps getting its JWKS. When the flood leaves, a
/// fresh client gets in again. The flood runs in a child process
/// (Tests/python/hostile_idle_flood.py) so its sockets do not count against this process's
/// file limit, which holds the server's ends.
final class HostileConnectionFloodTests: XCTestCase {
    static let floodSize = 10_000
    /// The flood, the watching client, and two spare slots.
    static let limit = 10_003

    func testTenThousandIdleConnections() async throws {
        var files = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        let needed = rlim_t(Self.limit + 1024)
        if files.rlim_cur < needed {
            files.rlim_cur = min(needed, files.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        }
        guard files.rlim_cur >= needed else { throw XCTSkip("RLIMIT_NOFILE hard limit \(files.rlim_max) is below \(needed)") }

        let harness = try await ServiceHarness.start {
            $0.maxConnections = Self.limit
            $0.headerTimeout = .seconds(60)
            $0.idleTimeout = .seconds(60)
        }
        let port = harness.publicPort
        let watch = HostileWatch(port: port)
        usleep(200_000)
        let spec = Data(#"{"port": \#(port), "count": \#(Self.floodSize), "extras": 20}"#.utf8)
        let printed = try await Task.detached { try PythonCheck.runRaw("hostile_idle_flood.py", stdin: spec) }.value
        let output = try JSONSerialization.jsonObject(with: printed) as? [String: Any] ?? [:]
        let report = watch.stop()
        await harness.stop()

        XCTAssertEqual(output["held"] as? Int, Self.floodSize)
        XCTAssertGreaterThanOrEqual(output["refused_in_time"] as? Int ?? 0, 15,
                                    "connections beyond max-connections are closed at once: \(output["extras_seconds"] ?? "")")
        XCTAssertEqual(Set(output["sample"] as? [Int] ?? []), [200], "held connections are still served")
        XCTAssertEqual(output["fresh"] as? Int, 200, "a fresh client gets in once the flood left")
        XCTAssertTrue(report.failures.isEmpty, "the well-behaved client failed: \(report.failures.prefix(5))")
        XCTAssertGreaterThan(report.served, 10)
    }
}
