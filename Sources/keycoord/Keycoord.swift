import ArgumentParser

@main
struct Keycoord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keycoord",
        abstract: "One shared set of JWT signing keys for all SPIRE servers of a trust domain.",
        version: KeycoordVersion.current,
        subcommands: [Serve.self, Ensure.self, Keys.self, Lock.self, JWKS.self, Migrate.self, Healthcheck.self, Version.self]
    )
}

enum KeycoordVersion {
    static let current = "0.1.0"
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print(KeycoordVersion.current) }
}
