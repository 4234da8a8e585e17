#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HTTP
@testable import Transport

/// A deliberately dumb blocking socket client for tests: it sends exactly the bytes it is
/// given and reads responses byte-exactly, so malformed requests reach the server unchanged.
final class RawHTTPClient: @unchecked Sendable {
    // @unchecked: a test drives one client from one thread at a time.
    struct Response: Sendable {
        var status: Int
        var reason: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let fd: Int32
    private var buffer: [UInt8] = []

    init(_ address: ListenAddress, receiveTimeout: Double = 10) throws {
        var family = AF_INET
        if case .unix = address { family = AF_UNIX }
        if case .tcp(let host, _) = address, host.contains(":") { family = AF_INET6 }
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = SocketAddress.withSockAddr(address) { pointer, length, _ in connect(fd, pointer, length) }
        guard connected == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(description: "connect to \(address): errno \(code)")
        }
    }

    deinit {
        Glibc.close(fd)
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads more bytes; false on EOF, throws on timeout or error.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        if count == 0 { return false }
        throw Failure(description: "recv: errno \(errno)")
    }

    /// Reads one response; `head` says whether it answers a HEAD request (no body).
    func readResponse(head: Bool = false) throws -> Response {
        var end: Int?
        while end == nil {
            end = Self.find([13, 10, 13, 10], in: buffer).map { $0 + 4 }
            if end == nil, try !fill() { throw Failure(description: "EOF before a complete response head (\(buffer.count) bytes)") }
        }
        guard let headEnd = end else { throw Failure(description: "no head") }
        let lines = String(decoding: buffer[0..<(headEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusParts.count >= 2, statusParts[0] == "HTTP/1.1", let status = Int(statusParts[1]) else {
            throw Failure(description: "bad status line: \(lines[0])")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad field line: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        buffer.removeFirst(headEnd)
        var response = Response(status: status, reason: statusParts.count > 2 ? String(statusParts[2]) : "",
                                headers: headers, body: [])
        let length = head || status / 100 == 1 || status == 204 || status == 304 ? 0 : Int(response.header("Content-Length") ?? "0") ?? 0
        while buffer.count < length {
            if try !fill() { throw Failure(description: "EOF inside a body") }
        }
        response.body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return response
    }

    /// Whether the server closed the connection: reads until EOF, failing on unexpected bytes.
    func readEOF() throws -> Bool {
        if !buffer.isEmpty { throw Failure(description: "unexpected bytes: \(String(decoding: buffer, as: UTF8.self))") }
        do {
            return try !fill() && buffer.isEmpty
        } catch {
            if errno == ECONNRESET { return true }
            throw error
        }
    }

    func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}
