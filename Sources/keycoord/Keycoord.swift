import ArgumentParser
import Foundation

@main
struct Keycoord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keycoord",
        abstract: "One shared set of JWT signing keys for all SPIRE servers of a trust domain.",
        version: KeycoordVersion.current,
        subcommands: [Serve.self, Ensure.self, Keys.self, Lock.self, JWKS.self, Migrate.self, Healthcheck.self,
                      SPIREPluginCommand.self, Version.self]
    )

    /// Run as `keycoord-spire-plugin` (the link beside keycoord in the image), the program
    /// is the SPIRE plugin: SPIRE's plugin_cmd may name a program without arguments.
    static func main() async {
        let name = CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }
        if name == "keycoord-spire-plugin" {
            await main(["spire-plugin"] + CommandLine.arguments.dropFirst())
        } else {
            await main(nil)
        }
    }
}

enum KeycoordVersion {
    static let current = "0.1.0"
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print(KeycoordVersion.current) }
}
