#if canImport(Glibc)
import Glibc
#endif
import CTransportShims

/// A bound, listening, non-blocking socket with its name and the factory that makes the
/// protocol connection for each socket it accepts.
public final class ListenerSocket: Sendable {
    public let fileDescriptor: Int32
    public let name: String
    let makeConnection: ConnectionFactory
    /// The bound address, with an ephemeral port resolved.
    public let address: ListenAddress
    public let isUnix: Bool
    /// The TLS context source of a TLS listener; nil for plaintext.
    let tls: TLSContextReloader?

    /// Why binding a listener failed.
    public struct BindError: Error, CustomStringConvertible {
        public let address: ListenAddress
        public let operation: String
        public let code: Int32
        public var description: String {
            "cannot listen on \(address): \(operation) failed: \(String(cString: strerror(code)))"
        }
    }

    /// `unixMode`: permission bits of a unix socket file (e.g. 0o660), set before `listen`
    /// so no client connects while it is still wider; nil keeps the umask's.
    public init(address: ListenAddress, name: String, tls: TLSContextReloader? = nil, unixMode: mode_t? = nil,
         makeConnection: @escaping ConnectionFactory) throws {
        self.name = name
        self.makeConnection = makeConnection
        self.tls = tls
        var family: Int32 = AF_INET
        if case .unix(let path) = address {
            family = AF_UNIX
            var status = stat()
            // Replace a stale socket from an earlier run, never any other kind of file.
            if lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
        } else if case .tcp(let host, _) = address, host.contains(":") {
            family = AF_INET6
        }
        isUnix = family == AF_UNIX
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BindError(address: address, operation: "socket", code: errno) }
        var one: Int32 = 1
        if family != AF_UNIX {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 {
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        let bound = SocketAddress.withSockAddr(address) { pointer, length, _ in
            bind(fd, pointer, length)
        }
        guard let bound else {
            Glibc.close(fd)
            throw BindError(address: address, operation: "address", code: EINVAL)
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw BindError(address: address, operation: "bind", code: code)
        }
        if case .unix(let path) = address, let unixMode, chmod(path, unixMode) != 0 {
            let code = errno
            Glibc.close(fd)
            unlink(path)
            throw BindError(address: address, operation: "chmod", code: code)
        }
        guard Glibc.listen(fd, 4096) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw BindError(address: address, operation: "listen", code: code)
        }
        fileDescriptor = fd
        self.address = Self.boundAddress(fd: fd, requested: address)
    }

    private static func boundAddress(fd: Int32, requested: ListenAddress) -> ListenAddress {
        guard case .tcp(let host, _) = requested else { return requested }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return requested }
        let family = Int32(storage.ss_family)
        let port: UInt16 = withUnsafePointer(to: &storage) { pointer in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return .tcp(host: host, port: Int(port))
    }

    /// Closes the socket and removes a unix socket file.
    public func close() {
        _ = Glibc.close(fileDescriptor)
        if case .unix(let path) = address { unlink(path) }
    }
}
