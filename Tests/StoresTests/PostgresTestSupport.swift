import Core
import Crypto
import Foundation
@testable import Stores

/// Real PostgreSQL for the Postgres* tests, from scripts/with-test-services.sh. Each test
/// suite gets a fresh database so suites can run in parallel.
enum PostgresTestSupport {
    static let adminURL = ProcessInfo.processInfo.environment["KEYCOORD_TEST_POSTGRES_URL"]

    /// Creates `keycoord_test_<random>` and returns a URL to it. The name is generated here
    /// (hex only), so building the DDL from it is safe.
    static func freshDatabase() async throws -> String {
        guard let adminURL else { throw PostgresTestError("KEYCOORD_TEST_POSTGRES_URL is not set") }
        let name = "keycoord_test_\(SecureRandom.hexToken(bytes: 6))"
        let admin = try await PGConnection.connect(PGSettings(url: adminURL))
        try await admin.query("CREATE DATABASE \(name)")
        await admin.close()
        return try url(adminURL, database: name)
    }

    static func url(_ base: String, database: String) throws -> String {
        guard var components = URLComponents(string: base) else { throw PostgresTestError("bad URL \(base)") }
        components.path = "/\(database)"
        guard let url = components.string else { throw PostgresTestError("bad URL \(base)") }
        return url
    }

    static func connect(_ url: String) async throws -> PGConnection {
        try await PGConnection.connect(PGSettings(url: url))
    }

    static func record(_ trustDomain: String, kid: String, state: KeyState = .published) -> KeyRecord {
        let now = Date()
        return KeyRecord(trustDomain: trustDomain, kid: kid, keyType: .ecP256, publicKey: SecureRandom.bytes(91),
                         backend: "external", backendRef: nil, createdAt: now, publishedAt: now,
                         notAfter: now.addingTimeInterval(86_400), state: state, createdBy: "test")
    }

    /// Starts `psql` on `url` with `script` fed on stdin; the caller ends it.
    static func psql(_ url: String, script: String) throws -> (process: Process, input: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        return (process, input)
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

struct PostgresTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
