import ArgumentParser
import SPIREPlugin

/// `keycoord spire-plugin`: SPIRE server starts it as its KeyManager plugin (go-plugin); the
/// same program runs as `keycoord-spire-plugin` for a plugin_cmd that takes no arguments.
struct SPIREPluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spire-plugin",
        abstract: "Serve as SPIRE server's KeyManager plugin (started by SPIRE, not by hand)."
    )

    func run() async throws {
        let status = await SPIREPluginProcess.run()
        if status != 0 { throw ExitCode(status) }
    }
}
