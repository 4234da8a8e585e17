import ArgumentParser
import CoreMetrics
import Foundation
import Logging
import Prometheus
import Service

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the keycoord service.",
        discussion: """
        Settings come from, in rising precedence: defaults, --config FILE (a JSON object of
        setting names), KEYCOORD_* environment variables, and these flags (--name VALUE or
        --name=VALUE). With none, keycoord runs its embedded default: file store and disk
        backend under ./keycoord-data, public listener 127.0.0.1:8080, control API
        127.0.0.1:8081 with a generated bearer token.

        SETTINGS (flag / environment variable):
        \(ServiceSettings.all.map { "  --\($0.name)\($0.repeatable ? " (repeatable)" : "")\n      \($0.help)\n      env \($0.environmentName)" }.joined(separator: "\n"))
        """
    )

    @Option(name: .long, help: "JSON config file (also KEYCOORD_CONFIG).")
    var config: String?

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settings: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let flags: [String: [String]]
        do {
            flags = try SettingFlags.parse(settings)
        } catch let error as ValidationError {
            throw error
        }
        let serviceConfig: ServiceConfig
        do {
            serviceConfig = try ConfigLoader.load(file: config ?? environment["KEYCOORD_CONFIG"], environment: environment, flags: flags)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        let json = serviceConfig.logFormat == .json
        let level = Logger.Level(rawValue: serviceConfig.logLevel) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level, json: json) }
        let logger = Logger(label: "keycoord")

        // The one process-wide metrics setup: libraries that report through swift-metrics
        // land in the registry that /metrics renders, beside keycoord's own series.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let service: KeycoordService
        do {
            service = try await KeycoordService(config: serviceConfig, logger: logger, metrics: ServiceMetrics(registry: registry))
            _ = try await service.start()
        } catch {
            logger.critical("keycoord failed to start", metadata: ["error": .string("\(error)")])
            JSONLogHandler.flush()
            throw ExitCode(1)
        }
        let signal = await ShutdownSignal.wait()
        logger.notice("shutting down", metadata: ["signal": .string(signal)])
        await service.shutdown()
        JSONLogHandler.flush()
    }
}

/// Parses `--name value`, `--name=value` pairs against the settings table.
enum SettingFlags {
    static func parse(_ arguments: [String]) throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else {
                throw ValidationError("unexpected argument \"\(argument)\"; settings are given as --name VALUE")
            }
            var name = String(argument.dropFirst(2))
            var value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                index += 1
                guard index < arguments.count else { throw ValidationError("--\(name) needs a value") }
                value = arguments[index]
            }
            guard ServiceSettings.named(name) != nil else {
                throw ValidationError("unknown setting --\(name) (see keycoord serve --help)")
            }
            result[name, default: []].append(value)
            index += 1
        }
        return result
    }
}
