import Foundation

/// Reads leaf elements from the small, flat XML documents the AWS query protocols
/// return (STS credentials and errors). Not a general XML parser: it finds
/// `<Name>text</Name>` and decodes the five predefined entities.
struct AWSXML {
    let text: String

    init(_ body: [UInt8]) { text = String(decoding: body, as: UTF8.self) }

    /// The text of the first element called `name`, nil when absent.
    func first(_ name: String) -> String? {
        guard let open = text.range(of: "<\(name)>"),
              let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else { return nil }
        return Self.unescape(String(text[open.upperBound..<close.lowerBound]))
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func unescape(_ value: String) -> String {
        value.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
