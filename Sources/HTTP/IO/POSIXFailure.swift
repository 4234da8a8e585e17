#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed while setting up the server.
struct POSIXFailure: Error, CustomStringConvertible {
    let operation: String
    let code: Int32
    var description: String { "\(operation) failed: \(String(cString: strerror(code)))" }
}
