#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file-system call: what was attempted, on which path, and the system's reason,
/// so an operator reading the message knows which file to look at.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    /// The `errno` value the call failed with.
    public let code: Int32

    public init(_ operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// Captures `errno` right after a failed call.
    static func current(_ operation: String, path: String) -> FileError {
        FileError(operation, path: path, code: errno)
    }

    /// The file or a directory on its path does not exist.
    public var isNotFound: Bool { code == ENOENT }

    public var description: String {
        "\(operation) \(path) failed: \(String(cString: strerror(code)))"
    }
}
