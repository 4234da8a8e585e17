import Core
import Foundation
import Stores

/// A child process for FileStore crash tests. The test kills it with SIGKILL while it
/// holds a lock or while it rewrites a registry, then checks what it left behind.
///
///     FileStoreTestHelper hold-lock <directory> <lock-name> <ttl-seconds>
///         acquires the lock, prints "held <token> <expires-at, Unix seconds>", then
///         sleeps until killed (or is frozen with SIGSTOP by the test)
///     FileStoreTestHelper hold-postgres-lock <url> <lock-name> <ttl-seconds>
///         the same with a PostgresStore
///     FileStoreTestHelper write-loop <directory> <trust-domain>
///         rewrites the registry forever (records of varying size), printing
///         "wrote <sequence>" after the first commit
@main
struct FileStoreTestHelper {
    static func main() async {
        let arguments = CommandLine.arguments
        do {
            switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
            case (5, "hold-lock"), (5, "hold-postgres-lock"):
                let store: any CoordinationStore = arguments[1] == "hold-lock"
                    ? try FileStore(directory: arguments[2], instanceID: "helper-\(getpid())")
                    : try await PostgresStore(url: arguments[2], instanceID: "helper-\(getpid())")
                let ttl = Int(arguments[4]) ?? 60
                let lease = try await store.acquire(lock: arguments[3], holder: "helper-\(getpid())",
                                                    ttl: .seconds(ttl), wait: .seconds(5))
                say("held \(lease.fencingToken) \(lease.expiresAt.timeIntervalSince1970)")
                while true { try await Task.sleep(for: .seconds(60)) }
            case (4, "write-loop"):
                let store = try FileStore(directory: arguments[2], instanceID: "helper-\(getpid())")
                let trustDomain = arguments[3]
                var round = 0
                while true {
                    round += 1
                    let (count, current) = (50 + round % 150, round)
                    let (_, snapshot) = try await store.update(trustDomain: trustDomain, fence: nil) { records in
                        records = (0..<count).map { record(trustDomain: trustDomain, index: $0, round: current) }
                    }
                    if current == 1 { say("wrote \(snapshot.sequence)") }
                }
            default:
                FileHandle.standardError.write(Data("usage: FileStoreTestHelper hold-lock <dir> <lock> <ttl> | hold-postgres-lock <url> <lock> <ttl> | write-loop <dir> <trust-domain>\n".utf8))
                exit(2)
            }
        } catch {
            FileHandle.standardError.write(Data("FileStoreTestHelper: \(error)\n".utf8))
            exit(1)
        }
    }

    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func record(trustDomain: String, index: Int, round: Int) -> KeyRecord {
        let now = Date()
        return KeyRecord(trustDomain: trustDomain, kid: "kid-\(round)-\(index)", keyType: .ecP256,
                         publicKey: [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 91), backend: "external",
                         backendRef: nil, createdAt: now, publishedAt: now, notAfter: now.addingTimeInterval(86_400),
                         state: .published, createdBy: "helper")
    }
}
