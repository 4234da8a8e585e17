import Foundation
import Logging

/// A log handler that keeps every line (message and merged metadata, as strings), so tests
/// can read what the service wrote, such as its audit lines.
final class CapturedLog: @unchecked Sendable {
    struct Line {
        let message: String
        let metadata: [String: String]
    }

    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: [Line] = []

    var lines: [Line] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    func append(_ line: Line) {
        lock.lock()
        stored.append(line)
        lock.unlock()
    }

    func handler(label: String) -> any LogHandler { Handler(sink: self) }

    private struct Handler: LogHandler {
        let sink: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            sink.append(Line(message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}
