import Foundation
import JSON
import Logging

/// Log lines in hclog's JSON form on stderr, which go-plugin's host parses: `@level`,
/// `@message`, `@timestamp` and `@module`, every metadata key a field of its own. SPIRE then
/// logs each line at its level (plain lines would all land at DEBUG). `@message` is always a
/// JSON string: go-plugin's client panics on anything else, taking the SPIRE server down.
struct HCLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private let module: String
    private let output: FileHandle

    init(module: String, output: FileHandle = .standardError) {
        self.module = module
        self.output = output
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        output.write(Data(Self.render(level: event.level, message: "\(event.message)", module: module,
                                      metadata: metadata.merging(event.metadata ?? [:]) { $1 }, date: Date()).utf8))
    }

    /// One line, newline-terminated.
    static func render(level: Logger.Level, message: String, module: String, metadata: Logger.Metadata, date: Date) -> String {
        var fields: [(String, String)] = [
            ("@level", hclogLevel(level)),
            ("@message", message),
            ("@module", module),
            ("@timestamp", timestamp(date)),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("@") {
            fields.append((key, "\(value)"))
        }
        return JSONText.object(fields.map { ($0.0, JSONText.quoted($0.1)) }) + "\n"
    }

    /// hclog's level names; swift-log's notice and critical map to the nearest.
    static func hclogLevel(_ level: Logger.Level) -> String {
        switch level {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info, .notice: return "info"
        case .warning: return "warn"
        case .error, .critical: return "error"
        }
    }

    /// hclog's time layout: RFC 3339 with microseconds and the zone offset.
    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx"
        return formatter.string(from: date)
    }
}
