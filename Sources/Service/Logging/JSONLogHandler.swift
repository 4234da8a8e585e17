import Core
import Foundation
import JSON
import Logging

/// Writes one JSON object per line to standard error (or plain text lines), so log
/// collectors in the pod can parse keycoord's logs without a pattern.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let json: Bool

    /// Standard error through a writer thread, with 4 MiB of lines in waiting at most.
    private static let output = LogWriter(fileDescriptor: 2, capacity: 4 << 20)

    /// Waits (up to `timeout`) until the lines logged so far are written; call before exit.
    @discardableResult
    public static func flush(timeout: TimeInterval = 2) -> Bool {
        output.flush(timeout: timeout)
    }

    public init(label: String, level: Logger.Level, json: Bool) {
        self.label = label
        self.logLevel = level
        self.json = json
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = RFC3339.format(Date(), fractional: true)
        let line: String
        if json {
            var fields: [(String, String)] = [("time", time), ("level", event.level.rawValue), ("logger", label),
                                              ("msg", event.message.description)]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { fields.append((key, "\(value)")) }
            line = "{" + fields.map { "\(JSONText.quoted($0.0)):\(JSONText.quoted($0.1))" }.joined(separator: ",") + "}\n"
        } else {
            let meta = merged.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level.rawValue.uppercased()) \(label): \(event.message)\(meta.isEmpty ? "" : " " + meta)\n"
        }
        Self.output.write(line)
    }
}
