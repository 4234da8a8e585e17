import Foundation

/// A PostgreSQL cluster of the test's own (initdb from KEYCOORD_TEST_PGBIN), so a test can
/// stop and restart the server without disturbing the shared one other suites use.
public final class PostgresPrivateCluster: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    private let bin: String

    public var url: String { "postgresql://postgres@127.0.0.1:\(port)/postgres" }

    public init() throws {
        guard let bin = ProcessInfo.processInfo.environment["KEYCOORD_TEST_PGBIN"] else {
            throw PostgresClusterError("KEYCOORD_TEST_PGBIN is not set")
        }
        self.bin = bin
        let base = ProcessInfo.processInfo.environment["KEYCOORD_TEST_RUN_DIR"] ?? NSTemporaryDirectory()
        directory = URL(fileURLWithPath: base).appendingPathComponent("private-pg-\(UUID().uuidString.prefix(8))")
        port = try Self.freePort()
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sock"), withIntermediateDirectories: true)
        if getuid() == 0 {
            try Self.run("/bin/chown", ["-R", "postgres", directory.path])
        }
        try asPostgres("initdb", ["-D", dataPath, "-U", "postgres", "-A", "trust", "--no-sync"])
    }

    private var dataPath: String { directory.appendingPathComponent("data").path }

    public func start() throws {
        try asPostgres("pg_ctl", ["-D", dataPath, "-l", directory.appendingPathComponent("sock/pg.log").path, "-w", "-o",
                                  "-p \(port) -k \(directory.appendingPathComponent("sock").path) -c listen_addresses=127.0.0.1 -c fsync=off",
                                  "start"])
    }

    public func stop() throws {
        try asPostgres("pg_ctl", ["-D", dataPath, "-m", "fast", "-w", "stop"])
    }

    public func destroy() {
        try? asPostgres("pg_ctl", ["-D", dataPath, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    private func asPostgres(_ tool: String, _ arguments: [String]) throws {
        let path = "\(bin)/\(tool)"
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try Self.run(path, arguments)
        }
    }

    /// posix_spawn + waitpid rather than Foundation's Process: Process learns of the exit
    /// through a descriptor the child inherits, and the server that `pg_ctl start` leaves
    /// running inherits it too, so the wait would never end.
    public static func run(_ executable: String, _ arguments: [String]) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("keycoord-pgctl-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresClusterError("cannot run \(executable): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS == 0, spelled out: the C macros are not imported.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let message = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw PostgresClusterError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status)): \(message)")
        }
    }

    /// A port the kernel just handed out and released: free unless something grabs it now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresClusterError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress -> Bool in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw PostgresClusterError("cannot bind a probe socket") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
