import Foundation

/// The shared AWS files (`~/.aws/credentials` and `~/.aws/config`, or the paths in
/// `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`) and the selected profile
/// (configuration, then `AWS_PROFILE`, then `default`), merged the way the SDKs merge
/// them: the credentials file wins for keys it sets.
public struct AWSSharedConfig: Sendable, Equatable {
    public let profileName: String
    /// Whether the profile was named explicitly (a missing named profile is an error).
    public let profileExplicit: Bool
    /// The profile's settings with lowercased keys; empty when no file defines the profile.
    public let settings: [String: String]
    /// Whether any file defines the profile.
    public let found: Bool

    public init(profile: String?, environment: [String: String]) throws {
        let named = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        profileName = named ?? "default"
        profileExplicit = named != nil
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(home)/.aws/credentials"
        let configPath = environment["AWS_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(home)/.aws/config"

        let config = try Self.read(Self.expandTilde(configPath, home: home))
        let credentials = try Self.read(Self.expandTilde(credentialsPath, home: home))
        let configSection = profileName == "default" ? (config["default"] ?? config["profile default"])
                                                     : config["profile \(profileName)"]
        let credentialsSection = credentials[profileName]
        found = configSection != nil || credentialsSection != nil
        settings = (configSection ?? [:]).merging(credentialsSection ?? [:]) { _, fromCredentials in fromCredentials }
    }

    /// Parses an INI file into sections; nil when the file does not exist.
    static func read(_ path: String) throws -> [String: [String: String]] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AWSError("cannot read AWS shared file \(path)")
        }
        return parse(String(decoding: data, as: UTF8.self))
    }

    /// The subset of the INI dialect the SDKs accept that keycoord needs: `[section]`
    /// headers, `key = value` lines, `#`/`;` comments. Indented lines belong to a nested
    /// block (e.g. `s3 =`) and are skipped.
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else { current = nil; continue }
                let name = line[line.index(after: line.startIndex)..<close].split(whereSeparator: \.isWhitespace).joined(separator: " ")
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current, let first = rawLine.first, !first.isWhitespace,
                  let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty { sections[section, default: [:]][key] = value }
        }
        return sections
    }

    static func expandTilde(_ path: String, home: String) -> String {
        path.hasPrefix("~/") ? home + path.dropFirst() : path
    }
}
