import Core
import Foundation

/// Encodes the JSON values the API builds and `JSONReader` reads (`[String: Any]` of
/// strings, booleans, integers, finite doubles, `NSNull` or `JSONReader.Null`, arrays and
/// objects) with members sorted by code point. Replaces
/// JSONSerialization's `.sortedKeys`, which sorts through an ICU collator created per
/// call on Linux and dominated the control API's CPU profile.
enum JSONEncoding {
    static func encode(_ value: Any) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// Dispatches on the exact dynamic type first: a failed `as?` of a bridgeable value
    /// (a dictionary, a UInt64) to an unrelated type builds its Foundation bridge object
    /// first, which once made up a tenth of a lock request's CPU time.
    private static func write(_ value: Any, into out: inout String) {
        let kind = type(of: value)
        if kind == String.self, let string = value as? String {
            out += JSONText.quoted(string)
        } else if kind == Bool.self, let bool = value as? Bool {
            out += bool ? "true" : "false"
        } else if kind == Int.self, let int = value as? Int {
            out += String(int)
        } else if kind == Int64.self, let int = value as? Int64 {
            out += String(int)
        } else if kind == UInt64.self, let uint = value as? UInt64 {
            out += String(uint)
        } else if kind == Double.self, let double = value as? Double, double.isFinite {
            out += "\(double)"
        } else if kind == NSNull.self || kind == JSONReader.Null.self {
            out += "null"
        } else if kind is NSNumber.Type, let number = value as? NSNumber {
            // Foundation's own numbers (from JSONSerialization): booleans have objCType "c".
            out += String(cString: number.objCType) == "c" ? (number.boolValue ? "true" : "false") : number.stringValue
        } else if let object = value as? [String: Any] {
            out += "{"
            for (index, key) in object.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }).enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quoted(key) + ":"
                write(object[key]!, into: &out)
            }
            out += "}"
        } else if let array = value as? [Any] {
            out += "["
            for (index, element) in array.enumerated() {
                if index > 0 { out += "," }
                write(element, into: &out)
            }
            out += "]"
        } else {
            out += "null"
        }
    }
}
