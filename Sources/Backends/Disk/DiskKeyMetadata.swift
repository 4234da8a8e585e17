import Core
import Foundation

/// The sidecar `<key-type>-<id>.json` of a disk key: what the reconciler needs to know
/// without reading the private key. Replaced atomically on every change.
struct DiskKeyMetadata: Codable, Sendable, Equatable {
    var format: Int = 1
    var trustDomain: String
    var keyType: KeyType
    var mark: BackendKeyMark
    var kid: String?
    /// RFC 3339 with milliseconds, readable by an operator looking at the directory.
    var createdAt: String

    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// `date` as written to the file, and the date `createdDate` will read back from it.
    static func timestamp(_ date: Date) -> (text: String, date: Date) {
        let text = date.formatted(timeFormat)
        return (text, (try? timeFormat.parse(text)) ?? date)
    }

    var createdDate: Date? { try? Self.timeFormat.parse(createdAt) }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(self))
    }

    static func decode(_ bytes: [UInt8]) throws -> DiskKeyMetadata {
        try JSONDecoder().decode(DiskKeyMetadata.self, from: Data(bytes))
    }
}
