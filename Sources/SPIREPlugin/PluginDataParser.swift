import Foundation

/// The HCL that SPIRE hands a plugin as `plugin_data`, in the subset a flat settings block
/// uses: `name = "string"`, `name = 123`, `name = true|false`, one per line, with `#`, `//`
/// and `/* */` comments. Anything else (blocks, lists, interpolation) is refused with the
/// line it is on, so a typo never passes as a default.
enum PluginDataParser {
    enum Value: Equatable, Sendable {
        case string(String)
        case number(Int)
        case bool(Bool)
    }

    struct ParseError: Error, Equatable, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "plugin_data line \(line): \(reason)" }
    }

    static func parse(_ text: String) throws(ParseError) -> [String: Value] {
        var values: [String: Value] = [:]
        var inComment = false
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Substring(rawLine)
            if inComment {
                guard let end = line.range(of: "*/") else { continue }
                line = line[end.upperBound...]
                inComment = false
            }
            line = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("//") { continue }
            if line.hasPrefix("/*") {
                if let end = line.range(of: "*/") {
                    guard line[end.upperBound...].allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) else {
                        throw ParseError(line: number, reason: "text after a comment")
                    }
                } else {
                    inComment = true
                }
                continue
            }
            let (name, value) = try assignment(line, line: number)
            guard values[name] == nil else { throw ParseError(line: number, reason: "\(name) is set twice") }
            values[name] = value
        }
        if inComment { throw ParseError(line: text.split(separator: "\n").count, reason: "unterminated /* comment") }
        return values
    }

    private static func assignment(_ line: Substring, line number: Int) throws(ParseError) -> (String, Value) {
        guard let equals = line.firstIndex(of: "=") else { throw ParseError(line: number, reason: "expected name = value") }
        let name = line[..<equals].trimmingCharacters(in: .whitespaces)
        guard let first = name.first, first.isLetter || first == "_",
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw ParseError(line: number, reason: "invalid name \"\(name)\"")
        }
        var rest = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
        let value: Value
        if rest.hasPrefix("\"") {
            rest = rest.dropFirst()
            var text = ""
            var closed = false
            var escaped = false
            while let character = rest.first {
                rest = rest.dropFirst()
                if escaped {
                    switch character {
                    case "n": text.append("\n")
                    case "t": text.append("\t")
                    case "\"", "\\": text.append(character)
                    default: throw ParseError(line: number, reason: "unknown escape \\\(character)")
                    }
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    closed = true
                    break
                } else if character == "$" && rest.first == "{" {
                    throw ParseError(line: number, reason: "interpolation is not supported")
                } else {
                    text.append(character)
                }
            }
            guard closed else { throw ParseError(line: number, reason: "unterminated string") }
            value = .string(text)
        } else {
            let token = rest.prefix { !($0 == " " || $0 == "\t" || $0 == "\r" || $0 == "#") }
            rest = rest[token.endIndex...]
            if token == "true" || token == "false" {
                value = .bool(token == "true")
            } else if let number = Int(token) {
                value = .number(number)
            } else {
                throw ParseError(line: number, reason: "\(name) must be a quoted string, a number or true/false")
            }
        }
        let trailing = rest.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard trailing.isEmpty || trailing.hasPrefix("#") || trailing.hasPrefix("//") else {
            throw ParseError(line: number, reason: "unexpected text after the value of \(name)")
        }
        return (name, value)
    }
}
