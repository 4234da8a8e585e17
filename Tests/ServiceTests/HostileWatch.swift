import Foundation
import TestSupport
import XCTest

/// A well-behaved relying party that keeps fetching the JWKS over one keep-alive
/// connection while a test attacks the service, so each hostile test can assert that
/// legitimate clients were served throughout. A request that fails on a fresh connection
/// counts as a failure.
final class HostileWatch: @unchecked Sendable {
    struct Report {
        var served = 0
        var failures: [String] = []
        var slowest: Duration = .zero
    }

    private let port: Int
    private let lock = NSLock()
    private var report = Report()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    /// Starts fetching `/.well-known/jwks.json` from `port` every few milliseconds.
    init(port: Int) {
        self.port = port
        let thread = Thread { [self] in run() }
        thread.start()
    }

    private func run() {
        var client: RawHTTPClient?
        while !lock.withLock({ stopping }) {
            let started = ContinuousClock.now
            do {
                let response: RawHTTPClient.Response
                if let reused = client, let answer = try? reused.request("GET", "/.well-known/jwks.json") {
                    response = answer
                } else {
                    // Like any HTTP client, retry once on a fresh connection when a reused
                    // one fails: a server may close a keep-alive connection at any time.
                    let fresh = try RawHTTPClient(port: port, timeout: 5)
                    client = fresh
                    response = try fresh.request("GET", "/.well-known/jwks.json")
                }
                let elapsed = ContinuousClock.now - started
                lock.withLock {
                    if response.status == 200, response.json["keys"] is [Any] {
                        report.served += 1
                        report.slowest = max(report.slowest, elapsed)
                    } else {
                        report.failures.append("status \(response.status)")
                    }
                }
            } catch {
                lock.withLock { report.failures.append("\(error)") }
                client = nil
            }
            usleep(20_000)
        }
        finished.signal()
    }

    /// Stops the loop and returns what it saw.
    func stop() -> Report {
        lock.withLock { stopping = true }
        finished.wait()
        return lock.withLock { report }
    }
}
