import Foundation

/// JSON settings shared by the store's documents. Dates are Foundation's native seconds
/// since 2001-01-01 as a JSON number: the only encoding that round-trips a `Date`
/// exactly, so a snapshot read back equals the one written.
enum FileStoreJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .deferredToDate
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .deferredToDate
        return try decoder.decode(type, from: Data(bytes))
    }
}
