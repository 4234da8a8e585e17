#if canImport(Glibc)
import Glibc
#endif
import CTransportShims

/// Conversions between `ListenAddress` and the socket API's address structures.
enum SocketAddress {
    /// Whether `host` is an IPv4 or IPv6 literal or "localhost".
    static func isValidHost(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Calls `body` with a sockaddr for `address`; nil if the host or path is not usable.
    static func withSockAddr<T>(_ address: ListenAddress,
                                _ body: (UnsafePointer<sockaddr>, socklen_t, Int32) -> T) -> T? {
        switch address {
        case .tcp(let host, let port):
            guard (0...65535).contains(port) else { return nil }
            let literal = host == "localhost" ? "127.0.0.1" : host
            var v4 = sockaddr_in()
            if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = in_port_t(UInt16(port).bigEndian)
                return withUnsafePointer(to: &v4) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        body($0, socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
                    }
                }
            }
            var v6 = sockaddr_in6()
            guard inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 else { return nil }
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            return withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
                }
            }
        case .unix(let path):
            var un = sockaddr_un()
            un.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: un.sun_path) else { return nil }
            withUnsafeMutableBytes(of: &un.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            return withUnsafePointer(to: &un) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_un>.size), AF_UNIX)
                }
            }
        }
    }

    /// "ip:port" ("[ip]:port" for IPv6) of an accepted peer, or "unix".
    static func describe(_ storage: inout sockaddr_storage) -> String {
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin_addr
                    return "\(ntop(AF_INET, &address)):\(UInt16(bigEndian: pointer.pointee.sin_port))"
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin6_addr
                    return "[\(ntop(AF_INET6, &address))]:\(UInt16(bigEndian: pointer.pointee.sin6_port))"
                }
            }
        default:
            return "unix"
        }
    }

    private static func ntop(_ family: Int32, _ address: UnsafeRawPointer) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(family, address, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
