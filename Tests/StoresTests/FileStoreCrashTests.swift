import Core
import Foundation
import Stores
import Testing
import TestSupport

/// Crash safety with a real second process (FileStoreTestHelper) killed with SIGKILL:
/// the kernel drops a dead holder's flock, and an atomic rename never leaves a half
/// written registry.
@Suite struct FileStoreCrashTests {
    let scratch: ScratchDirectory
    let state: String

    init() throws {
        scratch = try ScratchDirectory("filestore-crash")
        state = scratch.appending("state")
    }

    @Test func killedHolderReleasesTheLock() async throws {
        let child = try HelperProcess(["hold-lock", state, "jwt:example.org:ec-p256", "60"])
        let line = try await child.readLine()
        let token = try #require(HelperProcess.heldLease(line)?.token, "helper said \(line)")
        let store = try FileStore(directory: state, instanceID: "survivor")
        let record = try SampleRecord.make(trustDomain: "example.org", kid: "k1")

        do {
            _ = try await store.acquire(lock: "jwt:example.org:ec-p256", holder: "survivor", ttl: .seconds(30), wait: .milliseconds(100))
            Issue.record("acquired a lock another live process holds")
        } catch CoordinationError.lockHeld(_, let holder, _) {
            #expect(holder == "helper-\(child.pid)")
        }
        // While the helper lives, its token fences writes made on its behalf.
        _ = try await store.update(trustDomain: "example.org", fence: Fence(lock: "jwt:example.org:ec-p256", token: token)) {
            $0.append(record)
        }

        await child.kill()
        let status = try await store.status(lock: "jwt:example.org:ec-p256")
        #expect(status.holder == nil && status.fencingToken == token, "after SIGKILL: \(status)")
        await #expect(throws: CoordinationError.staleFence(lock: "jwt:example.org:ec-p256", presented: token, current: token)) {
            _ = try await store.update(trustDomain: "example.org", fence: Fence(lock: "jwt:example.org:ec-p256", token: token)) { $0 = [] }
        }
        let lease = try await store.acquire(lock: "jwt:example.org:ec-p256", holder: "survivor", ttl: .seconds(30), wait: .zero)
        #expect(lease.fencingToken == token + 1)
        #expect(try await store.snapshot(trustDomain: "example.org").records == [record])
        await store.close()
    }

    @Test(arguments: [20, 90, 160, 230, 300])
    func killMidWriteLeavesAValidRegistry(afterMilliseconds delay: Int) async throws {
        let child = try HelperProcess(["write-loop", state, "example.org"])
        #expect(try await child.readLine() == "wrote 1")
        try await Task.sleep(for: .milliseconds(delay))
        await child.kill()

        let store = try FileStore(directory: state, instanceID: "survivor")
        let snapshot = try await store.snapshot(trustDomain: "example.org")
        #expect(snapshot.sequence >= 1)
        #expect((50..<200).contains(snapshot.records.count), "\(snapshot.records.count) records")
        let rounds = Set(snapshot.records.map { $0.kid.split(separator: "-")[1] })
        #expect(rounds.count == 1, "records of several writes mixed: \(rounds)")
        // The registry lock died with the child: the next update goes through at once.
        let (_, next) = try await store.update(trustDomain: "example.org", fence: nil) { $0.removeAll() }
        #expect(next.sequence == snapshot.sequence + 1 && next.records.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(state)/registry").filter { $0.hasPrefix(".") }
        #expect(leftovers.count <= 1, "temporary files: \(leftovers)")
    }
}

/// FileStoreTestHelper running as a child process, built next to the test bundle.
final class HelperProcess: Sendable {
    let pid: Int32
    private let process: Process
    private let output: FileHandle

    init(_ arguments: [String]) throws {
        let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let executable = binaries.appendingPathComponent("FileStoreTestHelper")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw HelperError("FileStoreTestHelper not found at \(executable.path); run `swift build --build-tests` first")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        self.process = process
        self.output = pipe.fileHandleForReading
        self.pid = process.processIdentifier
    }

    deinit {
        if process.isRunning { _ = Foundation.kill(pid, SIGKILL) }
    }

    /// The child's next line of output; fails if it exits first.
    func readLine() async throws -> String {
        let output = self.output
        return try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: a blocking read must not hold a thread of the shared pool.
            Thread {
                var line: [UInt8] = []
                while true {
                    let byte = output.readData(ofLength: 1)
                    guard let first = byte.first else {
                        continuation.resume(throwing: HelperError("helper exited before writing a line"))
                        return
                    }
                    if first == UInt8(ascii: "\n") { break }
                    line.append(first)
                }
                continuation.resume(returning: String(decoding: line, as: UTF8.self))
            }.start()
        }
    }

    /// The token and expiry of a `held <token> <expires-at>` line.
    static func heldLease(_ line: String) -> (token: UInt64, expiresAt: Date)? {
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[0] == "held", let token = UInt64(parts[1]), let expires = Double(parts[2]) else { return nil }
        return (token, Date(timeIntervalSince1970: expires))
    }

    /// Starts a helper that takes `lock` for `ttl` (`hold-lock` or `hold-postgres-lock` on
    /// `target`), then freezes it with SIGSTOP: the frozen holder of a conformance check.
    static func frozenHolder(_ mode: String, _ target: String) -> StoreConformance.FrozenHolder {
        { lock, ttl in
            let child = try HelperProcess([mode, target, lock, String(Int(ttl.timeInterval))])
            let line = try await child.readLine()
            guard let held = heldLease(line) else { throw HelperError("helper said \(line)") }
            _ = Foundation.kill(child.pid, SIGSTOP)
            return StoreConformance.FrozenLease(fencingToken: held.token, expiresAt: held.expiresAt) { await child.kill() }
        }
    }

    /// SIGKILL, then reap: no chance for the child to clean up. Reaped on a thread of its
    /// own so the wait never holds a thread of the shared task pool.
    func kill() async {
        _ = Foundation.kill(pid, SIGKILL)
        let process = self.process
        await withCheckedContinuation { continuation in
            Thread {
                process.waitUntilExit()
                continuation.resume()
            }.start()
        }
    }
}

struct HelperError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
