import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client for the CLI: one request per connection over TCP or a unix
/// socket (which URLSession cannot reach), `Connection: close`, bounded response size.
struct ControlClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Target {
        case tcp(host: String, port: UInt16)
        case unix(path: String)
    }

    let target: Target
    let hostHeader: String
    let timeoutSeconds: Int

    /// `http://HOST:PORT` or `unix:PATH`.
    init(url: String, timeoutSeconds: Int = 30) throws {
        self.timeoutSeconds = timeoutSeconds
        if url.hasPrefix("unix:") {
            target = .unix(path: String(url.dropFirst(5)))
            hostHeader = "localhost"
            return
        }
        guard url.hasPrefix("http://") else {
            throw ClientError("URL \(url) must be http://HOST:PORT or unix:PATH")
        }
        var authority = String(url.dropFirst(7))
        if let slash = authority.firstIndex(of: "/") { authority = String(authority[..<slash]) }
        hostHeader = authority
        let host: String
        let portText: String
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            portText = String(authority[authority.index(after: close)...].dropFirst())
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = String(authority[authority.index(after: colon)...])
        } else {
            host = authority
            portText = "80"
        }
        guard let port = UInt16(portText) else { throw ClientError("URL \(url) has no valid port") }
        target = .tcp(host: host, port: port)
    }

    func send(_ method: String, _ path: String, body: [UInt8]? = nil, token: String? = nil) throws -> Response {
        let fd = try connect()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\nAccept: application/json\r\n"
        head += "User-Agent: keycoord-cli/\(KeycoordVersion.current)\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try writeAll(fd, Array(head.utf8) + (body ?? []))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError("reading the response failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            received.append(contentsOf: buffer[0..<n])
            guard received.count <= 16 << 20 else { throw ClientError("response larger than 16 MiB") }
        }
        return try Self.parse(received)
    }

    private func connect() throws -> Int32 {
        switch target {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ClientError("socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); throw ClientError("socket path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
            try setTimeouts(fd)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else { close(fd); throw ClientError("cannot connect to unix:\(path): \(String(cString: strerror(errno)))") }
            return fd
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
                throw ClientError("cannot resolve \(host)")
            }
            defer { freeaddrinfo(list) }
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            var lastError = "no address"
            while let info = cursor {
                let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
                if fd >= 0 {
                    try setTimeouts(fd)
                    if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
                    lastError = String(cString: strerror(errno))
                    close(fd)
                }
                cursor = info.pointee.ai_next
            }
            throw ClientError("cannot connect to \(host):\(port): \(lastError)")
        }
    }

    private func setTimeouts(_ fd: Int32) throws {
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError("sending the request failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw ClientError("incomplete HTTP response")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ClientError("bad status line \(head[0])") }
        var headers: [(String, String)] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]).lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(bytes[(end + 4)...])
        if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }), length <= body.count {
            body = Array(body.prefix(length))
        }
        return Response(status: status, headers: headers, body: body)
    }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
