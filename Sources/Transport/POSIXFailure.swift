#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed while setting up the server.
public struct POSIXFailure: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }
    public var description: String { "\(operation) failed: \(String(cString: strerror(code)))" }
}
