import Foundation

/// A fresh directory under the system temp dir, removed by `remove()` (call it in tearDown).
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "keycoord-test") throws {
        let base = ProcessInfo.processInfo.environment["KEYCOORD_TEST_RUN_DIR"] ?? NSTemporaryDirectory()
        var template = Array((base as NSString).appendingPathComponent("\(prefix).XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw NSError(domain: "TemporaryDirectory", code: Int(errno))
        }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
