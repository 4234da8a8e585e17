import Foundation
import JSON

/// Writes back a value `JSONReader` produced (a JWK object inside a request, handed on to
/// the key parser): `String`, `Bool`, `Int64`, finite `Double`, `JSONReader.Null`, `[Any]`
/// and `[String: Any]`, members sorted by code point. Any other value is an error, never
/// a silent `null`. Responses do not come through here: they are typed (`WireFormat`,
/// `JSONWriter`).
enum JSONEncoding {
    struct UnknownValue: Error, CustomStringConvertible {
        let type: String
        var description: String { "a \(type) has no JSON form" }
    }

    static func encode(_ value: Any) throws -> String {
        var out = ""
        try write(value, into: &out)
        return out
    }

    /// Dispatches on the exact dynamic type: a failed `as?` of a bridgeable value builds its
    /// Foundation bridge object first, and a cast could bridge a Bool to a number.
    private static func write(_ value: Any, into out: inout String) throws {
        let kind = type(of: value)
        if kind == String.self, let string = value as? String {
            out += JSONText.quoted(string)
        } else if kind == Bool.self, let bool = value as? Bool {
            out += bool ? "true" : "false"
        } else if kind == Int64.self, let int = value as? Int64 {
            out += String(int)
        } else if kind == Double.self, let double = value as? Double, double.isFinite {
            out += "\(double)"
        } else if kind == JSONReader.Null.self {
            out += "null"
        } else if kind == [String: Any].self, let object = value as? [String: Any] {
            out += "{"
            for (index, key) in object.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }).enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quoted(key) + ":"
                try write(object[key]!, into: &out)
            }
            out += "}"
        } else if kind == [Any].self, let array = value as? [Any] {
            out += "["
            for (index, element) in array.enumerated() {
                if index > 0 { out += "," }
                try write(element, into: &out)
            }
            out += "]"
        } else {
            throw UnknownValue(type: "\(kind)")
        }
    }
}
