import Foundation

/// Builds a `ServiceConfig` from, in rising precedence: defaults, a JSON config file,
/// `KEYCOORD_*` environment variables, and flags.
public enum ConfigLoader {
    /// - Parameters:
    ///   - file: path of a JSON object whose keys are setting names; values are strings,
    ///     numbers, booleans or (for repeatable settings) arrays.
    ///   - environment: the process environment.
    ///   - flags: setting name → values given on the command line.
    public static func load(file: String?, environment: [String: String], flags: [String: [String]]) throws -> ServiceConfig {
        var config = ServiceConfig()
        if let file, !file.isEmpty {
            for (name, values) in try readFile(file) { try apply(&config, name, values, source: "config file \(file)") }
        }
        for setting in ServiceSettings.all {
            guard let raw = environment[setting.environmentName] else { continue }
            let values = setting.repeatable ? raw.split(separator: ",").map(String.init) : [raw]
            try apply(&config, setting.name, values, source: "environment \(setting.environmentName)")
        }
        for (name, values) in flags.sorted(by: { $0.key < $1.key }) where !values.isEmpty {
            try apply(&config, name, values, source: "flag --\(name)")
        }
        try config.validate()
        return config
    }

    private static func apply(_ config: inout ServiceConfig, _ name: String, _ values: [String], source: String) throws {
        guard let setting = ServiceSettings.named(name) else {
            throw ConfigError("\(source): unknown setting \"\(name)\"")
        }
        do {
            try setting.apply(&config, values)
        } catch let error as ConfigError {
            throw ConfigError("\(source): \(error.description)")
        }
    }

    static func readFile(_ path: String) throws -> [(String, [String])] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("config file \(path) cannot be read")
        }
        guard data.count <= 1 << 20 else { throw ConfigError("config file \(path) is larger than 1 MiB") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError("config file \(path) is not valid JSON: \(error.localizedDescription)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw ConfigError("config file \(path) must hold a JSON object of setting names")
        }
        var result: [(String, [String])] = []
        for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
            if let array = value as? [Any] {
                result.append((key, try array.map { try scalar($0, key: key, path: path) }))
            } else {
                result.append((key, [try scalar(value, key: key, path: path)]))
            }
        }
        return result
    }

    private static func scalar(_ value: Any, key: String, path: String) throws -> String {
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default:
            throw ConfigError("config file \(path): \"\(key)\" must be a string, number or array of them")
        }
    }
}
