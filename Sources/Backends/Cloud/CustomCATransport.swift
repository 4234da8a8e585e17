import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// HTTPS/1.1 over OpenSSL for endpoints whose certificate chains to a CA the operator names
/// (a private endpoint, a TLS-inspecting proxy): FoundationNetworking's URLSession on Linux
/// always trusts the system bundle only and offers no way to add a CA. The CA file is
/// trusted in addition to the system's roots; the peer's name (DNS name or IP address) is
/// verified as usual, and TLS 1.2 is the minimum.
///
/// One connection per exchange (`Connection: close`), run on a thread of its own so the
/// blocking socket never holds a cooperative-pool thread. Bodies with `Content-Length`,
/// chunked bodies and bodies that end with the connection are read.
final class CustomCATransport: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured in init and only read afterwards.
    private let context: OpaquePointer
    let caFile: String

    init(caFile: String) throws {
        ERR_clear_error()
        guard FileManager.default.isReadableFile(atPath: caFile) else {
            throw HTTPClientError.transport(url: caFile, reason: "the CA file cannot be read")
        }
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw HTTPClientError.transport(url: caFile, reason: "SSL_CTX_new failed")
        }
        guard kc_ssl_ctx_set_min_tls12(ctx) == 1, SSL_CTX_set_default_verify_paths(ctx) == 1,
              SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
            let reason = Self.openSSLError()
            SSL_CTX_free(ctx)
            throw HTTPClientError.transport(url: caFile, reason: "the CA file holds no usable PEM certificate (\(reason))")
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        context = ctx
        self.caFile = caFile
    }

    deinit { SSL_CTX_free(context) }

    /// One exchange within `timeout` seconds; `HTTPClientError` when no complete answer arrives.
    func send(_ request: HTTPClientRequest, timeout: TimeInterval, maxResponseBytes: Int) async throws -> HTTPClientResponse {
        let exchange = CustomCAExchange(context: context, request: request, deadline: Date().addingTimeInterval(timeout),
                                        timeout: timeout, limit: maxResponseBytes)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                Thread { continuation.resume(with: Result { try exchange.run() }) }.start()
            }
        } onCancel: {
            exchange.cancel()
        }
    }

    static func openSSLError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "no OpenSSL error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        ERR_clear_error()
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One request and its answer on one TLS connection.
private final class CustomCAExchange: @unchecked Sendable {
    private let context: OpaquePointer
    private let request: HTTPClientRequest
    private let deadline: Date
    private let timeout: TimeInterval
    private let limit: Int
    private let label: String
    private let lock = NSLock()
    private var socket: Int32 = -1
    private var cancelled = false

    init(context: OpaquePointer, request: HTTPClientRequest, deadline: Date, timeout: TimeInterval, limit: Int) {
        self.context = context
        self.request = request
        self.deadline = deadline
        self.timeout = timeout
        self.limit = limit
        self.label = HTTPClient.label(request.url)
    }

    /// Shuts the socket down so a blocked read or write returns at once.
    func cancel() {
        lock.lock()
        cancelled = true
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        lock.unlock()
    }

    func run() throws -> HTTPClientResponse {
        guard let host = request.url.host, !host.isEmpty else { throw fail("no host") }
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let port = request.url.port ?? 443
        let fd = try connect(bareHost, port)
        lock.lock()
        socket = fd
        let stop = cancelled
        lock.unlock()
        defer {
            lock.lock()
            socket = -1
            lock.unlock()
            close(fd)
        }
        if stop { throw HTTPClientError.cancelled }
        guard let ssl = SSL_new(context) else { throw fail("SSL_new failed") }
        defer { SSL_free(ssl) }
        SSL_set_fd(ssl, fd)
        var address = in6_addr()
        let isIP = inet_pton(AF_INET, bareHost, &address) == 1 || inet_pton(AF_INET6, bareHost, &address) == 1
        if isIP {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), bareHost)
        } else {
            _ = kc_ssl_set_sni(ssl, bareHost)
            SSL_set1_host(ssl, bareHost)
        }
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason = verify == X509_V_OK ? CustomCATransport.openSSLError()
                : String(cString: X509_verify_cert_error_string(verify))
            throw fail(timedOut() ? "TLS handshake timed out" : "TLS handshake failed: \(reason)")
        }
        try write(ssl, head() + request.body)
        return try readResponse(ssl)
    }

    private func head() -> [UInt8] {
        var target = request.url.path.isEmpty ? "/" : request.url.path
        if let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false) {
            target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            if let query = components.percentEncodedQuery { target += "?" + query }
        }
        var hostField = request.url.host ?? ""
        if let port = request.url.port { hostField += ":\(port)" }
        var text = "\(request.method) \(target) HTTP/1.1\r\nHost: \(hostField)\r\nConnection: close\r\n"
        for (name, value) in request.headers where !["host", "connection", "content-length"].contains(name.lowercased()) {
            text += "\(name): \(value)\r\n"
        }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            text += "Content-Length: \(request.body.count)\r\n"
        }
        return Array((text + "\r\n").utf8)
    }

    private func connect(_ host: String, _ port: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { throw fail("cannot resolve \(host)") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            setTimeouts(fd)
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw fail(timedOut() ? "connect timed out" : "cannot connect: \(lastError)")
    }

    /// Every blocking call waits at most what remains of the deadline.
    private func setTimeouts(_ fd: Int32) {
        let remaining = max(0.001, deadline.timeIntervalSinceNow)
        var value = timeval(tv_sec: Int(remaining), tv_usec: Int((remaining - floor(remaining)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private func write(_ ssl: OpaquePointer, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard written > 0 else { throw fail(timedOut() ? "write timed out" : "write failed: \(CustomCATransport.openSSLError())") }
            offset += Int(written)
        }
    }

    private func readResponse(_ ssl: OpaquePointer) throws -> HTTPClientResponse {
        var buffer: [UInt8] = []
        var ended = false
        var chunk = [UInt8](repeating: 0, count: 16384)
        func more() throws {
            guard !ended else { return }
            if timedOut() { throw HTTPClientError.timedOut(url: label, seconds: timeout) }
            let count = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if count > 0 {
                buffer += chunk[0..<Int(count)]
                if buffer.count > limit + 65536 { throw HTTPClientError.responseTooLarge(url: label, limit: limit) }
                return
            }
            let error = SSL_get_error(ssl, count)
            if error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0) {
                ended = true
                return
            }
            lock.lock()
            let stop = cancelled
            lock.unlock()
            if stop { throw HTTPClientError.cancelled }
            if timedOut() || errno == EAGAIN { throw HTTPClientError.timedOut(url: label, seconds: timeout) }
            throw fail("read failed: \(CustomCATransport.openSSLError())")
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let range = buffer.firstRange(of: separator) { headEnd = range.upperBound; break }
            if ended { throw fail("the connection closed before a complete answer") }
            if buffer.count > 65536 { throw fail("the answer's head exceeds 64 KiB") }
            try more()
        }
        let lines = String(decoding: buffer[0..<(headEnd! - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw fail("not an HTTP/1.1 answer")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        buffer = Array(buffer[headEnd!...])
        let body: [UInt8]
        if request.method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            body = []
        } else if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try dechunk(&buffer, more: more, ended: { ended })
        } else if let lengthText = headers["content-length"] {
            guard let length = Int(lengthText), length >= 0 else { throw fail("bad Content-Length \(lengthText)") }
            guard length <= limit else { throw HTTPClientError.responseTooLarge(url: label, limit: limit) }
            while buffer.count < length {
                if ended { throw fail("the connection closed \(length - buffer.count) bytes before the body's end") }
                try more()
            }
            body = Array(buffer[0..<length])
        } else {
            while !ended { try more() }
            body = buffer
        }
        guard body.count <= limit else { throw HTTPClientError.responseTooLarge(url: label, limit: limit) }
        return HTTPClientResponse(status: status, headers: headers, body: body)
    }

    private func dechunk(_ buffer: inout [UInt8], more: () throws -> Void, ended: () -> Bool) throws -> [UInt8] {
        var body: [UInt8] = []
        let lineEnd: [UInt8] = [13, 10]
        while true {
            var range = buffer.firstRange(of: lineEnd)
            while range == nil {
                if ended() { throw fail("the connection closed inside a chunked body") }
                try more()
                range = buffer.firstRange(of: lineEnd)
            }
            let sizeText = String(decoding: buffer[..<range!.lowerBound], as: UTF8.self)
                .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw fail("bad chunk size \(sizeText)") }
            buffer.removeSubrange(..<range!.upperBound)
            if size == 0 { return body }
            while buffer.count < size + 2 {
                if ended() { throw fail("the connection closed inside a chunk") }
                try more()
            }
            body += buffer[0..<size]
            guard body.count <= limit else { throw HTTPClientError.responseTooLarge(url: label, limit: limit) }
            buffer.removeSubrange(..<(size + 2))
        }
    }

    private func timedOut() -> Bool { Date() >= deadline }

    private func fail(_ reason: String) -> HTTPClientError {
        timedOut() ? .timedOut(url: label, seconds: timeout) : .transport(url: label, reason: reason)
    }
}
