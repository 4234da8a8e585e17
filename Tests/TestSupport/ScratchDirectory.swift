import Foundation

/// A fresh, private directory for one test, removed when the value is released. Lives
/// under `KEYCOORD_TEST_RUN_DIR` when the test-services script set it (cleaned up with the
/// run even if a test crashes), else under the system temporary directory.
public final class ScratchDirectory: Sendable {
    public let path: String

    public init(_ label: String = "scratch") throws {
        let base = ProcessInfo.processInfo.environment["KEYCOORD_TEST_RUN_DIR"] ?? NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base, isDirectory: true)
            .appendingPathComponent("\(label)-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        path = url.path
    }

    /// `path` joined with a relative `component`.
    public func appending(_ component: String) -> String { "\(path)/\(component)" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
