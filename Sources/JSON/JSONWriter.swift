/// Encodes `Encodable` values as compact JSON text with every object's members sorted by
/// code point, so the same value is always the same bytes (Foundation's `JSONEncoder` sorts
/// through a collator on Linux and does not promise member order without it).
///
/// Every member is written: an optional that is nil becomes `null` (the wire format's
/// nullable members are always present). Only what JSON can hold is accepted — a
/// non-finite number or a value written without a key or twice is an error, never a
/// silent `null`.
public enum JSONWriter {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = TreeEncoder(codingPath: [])
        try value.encode(to: encoder)
        guard let root = encoder.storage.root else { throw Failure(description: "\(T.self) encoded no value") }
        var out = ""
        root.write(into: &out)
        return out
    }
}

/// The value being built, one node per JSON value. Objects and arrays are reference
/// types so nested containers add to them in place.
indirect enum JSONNode {
    case literal(String)
    case object(JSONObjectBox)
    case array(JSONArrayBox)

    func write(into out: inout String) {
        switch self {
        case .literal(let text):
            out += text
        case .object(let box):
            out += "{"
            // UTF-8 byte order is code point order.
            for (index, key) in box.members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quoted(key) + ":"
                box.members[key]!.write(into: &out)
            }
            out += "}"
        case .array(let box):
            out += "["
            for (index, element) in box.elements.enumerated() {
                if index > 0 { out += "," }
                element.write(into: &out)
            }
            out += "]"
        }
    }
}

final class JSONObjectBox { var members: [String: JSONNode] = [:] }
final class JSONArrayBox { var elements: [JSONNode] = [] }

/// Where one encoder puts its single value.
final class TreeStorage {
    var root: JSONNode?

    func set(_ node: JSONNode, at codingPath: [any CodingKey]) throws {
        guard root == nil else { throw EncodingError.invalidValue(node, .init(codingPath: codingPath, debugDescription: "a value was encoded twice")) }
        root = node
    }

    func object(at codingPath: [any CodingKey]) -> JSONObjectBox {
        if case .object(let box) = root { return box }
        let box = JSONObjectBox()
        root = .object(box)
        return box
    }

    func array(at codingPath: [any CodingKey]) -> JSONArrayBox {
        if case .array(let box) = root { return box }
        let box = JSONArrayBox()
        root = .array(box)
        return box
    }
}

enum Scalar {
    static func number<T: BinaryInteger>(_ value: T) -> JSONNode { .literal(String(value)) }

    static func number(_ value: Double, _ codingPath: [any CodingKey]) throws -> JSONNode {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
        }
        if value == value.rounded(.towardZero), abs(value) < 1e15 { return .literal(String(Int64(value))) }
        return .literal("\(value)")
    }

    static func string(_ value: String) -> JSONNode { .literal(JSONText.quoted(value)) }
    static func bool(_ value: Bool) -> JSONNode { .literal(value ? "true" : "false") }
    static var null: JSONNode { .literal("null") }
}

final class TreeEncoder: Encoder {
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let storage = TreeStorage()

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(box: storage.object(at: codingPath), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(box: storage.array(at: codingPath), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleContainer(encoder: self) }

    /// Encodes a nested value with a fresh encoder and returns its node.
    static func node<T: Encodable>(of value: T, at codingPath: [any CodingKey]) throws -> JSONNode {
        switch value {
        case let string as String: return Scalar.string(string)
        case let bool as Bool: return Scalar.bool(bool)
        default:
            let encoder = TreeEncoder(codingPath: codingPath)
            try value.encode(to: encoder)
            guard let node = encoder.storage.root else {
                throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(T.self) encoded no value"))
            }
            return node
        }
    }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    let stringValue: String
    init(_ index: Int) { intValue = index; stringValue = String(index) }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.init(intValue) }
}

struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: JSONObjectBox
    let codingPath: [any CodingKey]

    private func put(_ node: JSONNode, _ key: Key) throws {
        guard box.members[key.stringValue] == nil else {
            throw EncodingError.invalidValue(key.stringValue, .init(codingPath: codingPath + [key], debugDescription: "member encoded twice"))
        }
        box.members[key.stringValue] = node
    }

    mutating func encodeNil(forKey key: Key) throws { try put(Scalar.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try put(Scalar.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try put(Scalar.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try put(try Scalar.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try put(try Scalar.number(Double(value), codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try put(Scalar.number(value), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try put(try TreeEncoder.node(of: value, at: codingPath + [key]), key)
    }

    // Nullable members are always present: nil is written as null, not left out.
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try encodeOptional(value, key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try encodeOptional(value, key) }

    private mutating func encodeOptional<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONObjectBox()
        box.members[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONArrayBox()
        box.members[key.stringValue] = .array(nested)
        return UnkeyedContainer(box: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super", at: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue, at: codingPath + [key]) }

    /// A superclass's members go in an object at `name` (a superclass that encodes a single
    /// value there gets an error, not a crash).
    private func superEncoder(named name: String, at path: [any CodingKey]) -> any Encoder {
        let encoder = TreeEncoder(codingPath: path)
        let nested = JSONObjectBox()
        box.members[name] = .object(nested)
        encoder.storage.root = .object(nested)
        return encoder
    }
}

struct UnkeyedContainer: UnkeyedEncodingContainer {
    let box: JSONArrayBox
    let codingPath: [any CodingKey]
    var count: Int { box.elements.count }

    private var nextPath: [any CodingKey] { codingPath + [IndexKey(box.elements.count)] }

    mutating func encodeNil() throws { box.elements.append(Scalar.null) }
    mutating func encode(_ value: Bool) throws { box.elements.append(Scalar.bool(value)) }
    mutating func encode(_ value: String) throws { box.elements.append(Scalar.string(value)) }
    mutating func encode(_ value: Double) throws { box.elements.append(try Scalar.number(value, nextPath)) }
    mutating func encode(_ value: Int) throws { box.elements.append(Scalar.number(value)) }
    mutating func encode(_ value: Int64) throws { box.elements.append(Scalar.number(value)) }
    mutating func encode(_ value: UInt64) throws { box.elements.append(Scalar.number(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { box.elements.append(try TreeEncoder.node(of: value, at: nextPath)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONObjectBox()
        let path = nextPath
        box.elements.append(.object(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONArrayBox()
        let path = nextPath
        box.elements.append(.array(nested))
        return UnkeyedContainer(box: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = TreeEncoder(codingPath: nextPath)
        let nested = JSONObjectBox()
        box.elements.append(.object(nested))
        encoder.storage.root = .object(nested)
        return encoder
    }
}

struct SingleContainer: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { try encoder.storage.set(Scalar.null, at: codingPath) }
    mutating func encode(_ value: Bool) throws { try encoder.storage.set(Scalar.bool(value), at: codingPath) }
    mutating func encode(_ value: String) throws { try encoder.storage.set(Scalar.string(value), at: codingPath) }
    mutating func encode(_ value: Double) throws { try encoder.storage.set(try Scalar.number(value, codingPath), at: codingPath) }
    mutating func encode(_ value: Float) throws { try encoder.storage.set(try Scalar.number(Double(value), codingPath), at: codingPath) }
    mutating func encode(_ value: Int) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: Int8) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: Int16) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: Int32) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: Int64) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: UInt) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: UInt8) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: UInt16) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: UInt32) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode(_ value: UInt64) throws { try encoder.storage.set(Scalar.number(value), at: codingPath) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.storage.set(try TreeEncoder.node(of: value, at: codingPath), at: codingPath) }
}
