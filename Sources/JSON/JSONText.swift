/// Builds compact JSON text with members in the order given, so documents keycoord
/// serves are byte-for-byte deterministic (Foundation's encoders do not promise an order).
/// The one JSON string escaper of the project: Core's documents, HTTP's problem bodies,
/// the API's responses and the log lines all use it.
public enum JSONText {
    /// A JSON string literal for `value`, escaped per RFC 8259 §7: `"`, `\\` and the
    /// control characters below U+0020; everything else as it is. Works on the UTF-8 bytes
    /// (a multi-byte sequence never holds a byte below 0x80), in one allocation.
    public static func quoted(_ value: String) -> String {
        var value = value
        return value.withUTF8 { bytes in
            var escapes = 0
            for byte in bytes where needsEscape(byte) { escapes += 1 }
            // At most six bytes per escaped byte (\u00XX), plus the quotes.
            return String(unsafeUninitializedCapacity: bytes.count + escapes * 5 + 2) { out in
                var index = 0
                out[index] = UInt8(ascii: "\""); index += 1
                for byte in bytes {
                    guard needsEscape(byte) else {
                        out[index] = byte; index += 1
                        continue
                    }
                    out[index] = UInt8(ascii: "\\"); index += 1
                    switch byte {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"): out[index] = byte; index += 1
                    case UInt8(ascii: "\n"): out[index] = UInt8(ascii: "n"); index += 1
                    case UInt8(ascii: "\r"): out[index] = UInt8(ascii: "r"); index += 1
                    case UInt8(ascii: "\t"): out[index] = UInt8(ascii: "t"); index += 1
                    default:
                        for digit in [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex(byte >> 4), hex(byte & 0xF)] {
                            out[index] = digit; index += 1
                        }
                    }
                }
                out[index] = UInt8(ascii: "\""); index += 1
                return index
            }
        }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private static func hex(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// An object from `(name, raw JSON value)` pairs, in order.
    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// An array of strings.
    public static func stringArray(_ values: [String]) -> String {
        "[" + values.map(quoted).joined(separator: ",") + "]"
    }
}
