import Core
import Foundation
import Testing
import TestSupport
@testable import Stores

/// A PgBouncer of the test's own in front of the shared test server (make test installs
/// PgBouncer; without it the suite fails, it is not skipped).
final class PostgresPgBouncer {
    static let executable = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    let port: Int
    private let directory: URL

    /// Serves database `pooled` (the server's `database`) in `mode` on a private port.
    init(serverURL: String, database: String, mode: String) throws {
        guard let executable = Self.executable else {
            throw PostgresTestError("pgbouncer is not installed (make test installs it through scripts/bootstrap.sh)")
        }
        guard let server = URLComponents(string: serverURL), let host = server.host, let serverPort = server.port else {
            throw PostgresTestError("the server URL \(serverURL) has no host and port")
        }
        port = try PostgresPrivateCluster.freePort()
        let base = ProcessInfo.processInfo.environment["KEYCOORD_TEST_RUN_DIR"] ?? NSTemporaryDirectory()
        directory = URL(fileURLWithPath: base).appendingPathComponent("pgbouncer-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = """
            [databases]
            pooled = host=\(host) port=\(serverPort) dbname=\(database) user=postgres
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = any
            pool_mode = \(mode)
            logfile = \(directory.path)/pgbouncer.log
            pidfile = \(directory.path)/pgbouncer.pid
            """
        try config.write(to: directory.appendingPathComponent("pgbouncer.ini"), atomically: true, encoding: .utf8)
        // PgBouncer refuses to run as root.
        if getuid() == 0 {
            try PostgresPrivateCluster.run("/bin/chown", ["-R", "postgres", directory.path])
            try PostgresPrivateCluster.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable, "-d",
                                                                 directory.appendingPathComponent("pgbouncer.ini").path])
        } else {
            try PostgresPrivateCluster.run(executable, ["-d", directory.appendingPathComponent("pgbouncer.ini").path])
        }
    }

    var url: String { "postgresql://postgres@127.0.0.1:\(port)/pooled" }

    func stop() {
        if let text = try? String(contentsOf: directory.appendingPathComponent("pgbouncer.pid"), encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            // SIGKILL: PgBouncer 1.18 takes SIGTERM as "wait until every client has gone", and
            // a client of the test may still be closing, so the daemon outlived the suite (and
            // kept whatever descriptors it inherited). A throwaway pooler has nothing to save.
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite
struct PostgresPoolerTests {
    @Test(arguments: ["transaction", "session"])
    func poolerIsRefused(mode: String) async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let database = try #require(URLComponents(string: url)?.path.dropFirst())
        let bouncer = try PostgresPgBouncer(serverURL: url, database: String(database), mode: mode)
        defer { bouncer.stop() }
        // The pooler answers queries: the refusal comes from the check, not from a dead port.
        #expect(await PostgresTestSupport.eventually {
            guard let probe = try? await PostgresTestSupport.connect(bouncer.url) else { return false }
            defer { Task { await probe.close() } }
            return (try? await probe.query("SELECT 1 AS one")) != nil
        })
        do {
            _ = try await PostgresStore(url: bouncer.url, instanceID: "behind-pooler")
            Issue.record("PostgresStore started behind PgBouncer in \(mode) mode")
        } catch let CoordinationError.storeUnavailable(message) {
            #expect(message.contains("pooler"))
        }
        await #expect(throws: CoordinationError.self) { _ = try await PostgresStore.migrate(url: bouncer.url) }
    }
}
