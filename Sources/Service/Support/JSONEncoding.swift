import Core
import Foundation

/// Encodes the JSON values the API builds (`[String: Any]` of strings, booleans,
/// integers, `NSNull`, arrays and objects) with members sorted by code point. Replaces
/// JSONSerialization's `.sortedKeys`, which sorts through an ICU collator created per
/// call on Linux and dominated the control API's CPU profile.
enum JSONEncoding {
    static func encode(_ value: Any) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    private static func write(_ value: Any, into out: inout String) {
        switch value {
        case let string as String:
            out += JSONText.quoted(string)
        case let bool as Bool where type(of: value) == Bool.self:
            out += bool ? "true" : "false"
        case let number as NSNumber where type(of: value) is NSNumber.Type:
            // Foundation's own numbers (from JSONSerialization): booleans have objCType "c".
            out += String(cString: number.objCType) == "c" ? (number.boolValue ? "true" : "false") : number.stringValue
        case let int as Int:
            out += String(int)
        case let int as Int64:
            out += String(int)
        case let uint as UInt64:
            out += String(uint)
        case let array as [Any]:
            out += "["
            for (index, element) in array.enumerated() {
                if index > 0 { out += "," }
                write(element, into: &out)
            }
            out += "]"
        case let object as [String: Any]:
            out += "{"
            for (index, key) in object.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }).enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quoted(key) + ":"
                write(object[key]!, into: &out)
            }
            out += "}"
        default:
            out += "null"
        }
    }
}
