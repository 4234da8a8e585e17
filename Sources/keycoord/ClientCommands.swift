import ArgumentParser
import Foundation
import Service

struct Ensure: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Get the shared key to sign with now (minting it if needed).")
    @OptionGroup var options: ClientOptions
    @Option(help: "ec-p256, ec-p384, rsa-2048 or rsa-4096.") var keyType = "ec-p256"
    @Option(help: "The calling SPIRE server's id.") var serverID: String

    func run() throws {
        try options.call("POST", "/v1/jwt-keys/\(pathSegment(keyType))/ensure", json: ["server_id": serverID])
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List, show, taint or revoke shared keys.",
                                                    subcommands: [List.self, Show.self, Taint.self, Revoke.self])

    struct List: ParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() throws { try options.call("GET", "/v1/keys", view: .keys) }
    }

    struct Show: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var kid: String
        func run() throws { try options.call("GET", "/v1/keys/\(pathSegment(kid))") }
    }

    struct Taint: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop signing with a key now; a replacement takes over.")
        @OptionGroup var options: ClientOptions
        @Argument var kid: String
        @Option(help: "Why: kept on the key record (taint_reason) and written in the audit log.") var reason: String?
        func run() throws {
            try options.call("POST", "/v1/keys/\(pathSegment(kid))/taint", json: reason.map { ["reason": $0] } ?? [:])
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key from the JWKS now.")
        @OptionGroup var options: ClientOptions
        @Argument var kid: String
        func run() throws { try options.call("DELETE", "/v1/keys/\(pathSegment(kid))") }
    }
}

struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Acquire, renew, release or inspect a named lock.",
                                                    subcommands: [Acquire.self, Renew.self, Release.self, Status.self])

    struct Acquire: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option var holder: String
        @Option(help: "Lease length in seconds.") var ttl: Int = 30
        @Option(help: "Seconds to wait while it is held.") var wait: Int = 0
        func run() throws {
            try options.call("POST", "/v1/locks/\(pathSegment(name))", json: ["holder": holder, "ttl_seconds": ttl, "wait_seconds": wait])
        }
    }

    struct Renew: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option var leaseID: String
        @Option var ttl: Int = 30
        func run() throws {
            try options.call("POST", "/v1/locks/\(pathSegment(name))/renew", json: ["lease_id": leaseID, "ttl_seconds": ttl])
        }
    }

    struct Release: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option var leaseID: String
        func run() throws {
            try options.call("DELETE", "/v1/locks/\(pathSegment(name))?lease_id=\(pathSegment(leaseID))")
        }
    }

    struct Status: ParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        func run() throws { try options.call("GET", "/v1/locks/\(pathSegment(name))") }
    }
}

struct JWKS: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the JWKS relying parties see.")
    @Option(help: "Public listener: http://HOST:PORT or unix:PATH (env KEYCOORD_PUBLIC_URL).") var publicURL: String?
    @Option(help: "table or json (default: table on a terminal, json when piped).") var output: OutputFormat?

    func run() throws {
        let url = publicURL ?? ProcessInfo.processInfo.environment["KEYCOORD_PUBLIC_URL"] ?? "http://127.0.0.1:8080"
        let response = try ControlClient(url: url).send("GET", "/keys")
        ClientView.jwks.print(response, format: output ?? .automatic)
        guard response.status == 200 else { throw ExitCode(1) }
    }
}

struct Healthcheck: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Exit 0 when the service answers (for container health checks).")
    @Option(help: "Public listener URL.") var publicURL = "http://127.0.0.1:8080"
    @Option(help: "healthz (alive) or readyz (ready to serve its SPIRE server).") var probe = "healthz"

    func run() throws {
        guard probe == "healthz" || probe == "readyz" else { throw ValidationError("--probe is healthz or readyz") }
        let response = try ControlClient(url: publicURL, timeoutSeconds: 5).send("GET", "/\(probe)")
        guard response.status == 200 else {
            FileHandle.standardError.write(Data(response.body))
            throw ExitCode(1)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the PostgreSQL schema migrations and exit.")
    @Option(help: "libpq URL (env KEYCOORD_POSTGRES_URL; PG* variables also apply).") var postgresURL: String?

    func run() async throws {
        let url = postgresURL ?? ProcessInfo.processInfo.environment["KEYCOORD_POSTGRES_URL"] ?? ""
        let version = try await KeycoordMigrations.migrate(url: url)
        print("schema at version \(version)")
    }
}
