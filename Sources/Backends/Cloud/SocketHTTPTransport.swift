import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// TLS settings for `HTTPClient`'s own transport: CAs trusted besides the system's
/// roots, and a client certificate for mutual TLS.
public struct HTTPClientTLS: Sendable, Equatable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

/// HTTP/1.1 on the project's own sockets, for what FoundationNetworking's URLSession
/// cannot do on Linux: trust a CA the operator names (a private endpoint, a
/// TLS-inspecting proxy), present a client certificate, or reach a unix socket (the
/// sidecar's control API). HTTPS goes over OpenSSL: the CA file is trusted in addition to
/// the system's roots, the peer's name (DNS name or IP address) is verified as usual, and
/// TLS 1.2 is the minimum. `http://` URLs are plaintext; with `unixSocket` every request
/// goes to that socket whatever the URL's host.
///
/// One connection per exchange (`Connection: close`), run on a thread of its own so the
/// blocking socket never holds a cooperative-pool thread. Bodies with `Content-Length`,
/// chunked bodies and bodies that end with the connection are read.
final class SocketHTTPTransport: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured in init and only read afterwards.
    private let context: OpaquePointer
    let unixSocket: String?

    init(tls: HTTPClientTLS, unixSocket: String? = nil) throws {
        ERR_clear_error()
        self.unixSocket = unixSocket
        let label = tls.caFile ?? tls.certificateFile ?? "TLS"
        if let caFile = tls.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw HTTPClientError.transport(url: caFile, reason: "the CA file cannot be read")
        }
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw HTTPClientError.transport(url: label, reason: "SSL_CTX_new failed")
        }
        guard kc_ssl_ctx_set_min_tls12(ctx) == 1, SSL_CTX_set_default_verify_paths(ctx) == 1 else {
            let reason = Self.openSSLError()
            SSL_CTX_free(ctx)
            throw HTTPClientError.transport(url: label, reason: "TLS setup failed (\(reason))")
        }
        if let caFile = tls.caFile, SSL_CTX_load_verify_locations(ctx, caFile, nil) != 1 {
            let reason = Self.openSSLError()
            SSL_CTX_free(ctx)
            throw HTTPClientError.transport(url: caFile, reason: "the CA file holds no usable PEM certificate (\(reason))")
        }
        if let certificate = tls.certificateFile {
            guard let key = tls.keyFile, SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1,
                  SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                let reason = Self.openSSLError()
                SSL_CTX_free(ctx)
                throw HTTPClientError.transport(url: certificate, reason: "the client certificate or its key cannot be used (\(reason))")
            }
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        context = ctx
    }

    deinit { SSL_CTX_free(context) }

    /// One exchange within `timeout` seconds; `HTTPClientError` when no complete answer arrives.
    func send(_ request: HTTPClientRequest, timeout: TimeInterval, maxResponseBytes: Int) async throws -> HTTPClientResponse {
        let exchange = SocketHTTPExchange(context: request.url.scheme == "https" ? context : nil, unixSocket: unixSocket,
                                          request: request, deadline: Date().addingTimeInterval(timeout),
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

/// One request and its answer on one connection (TLS when `context` is set).
private final class SocketHTTPExchange: @unchecked Sendable {
    private let context: OpaquePointer?
    private let unixSocket: String?
    private let request: HTTPClientRequest
    private let deadline: Date
    private let timeout: TimeInterval
    private let limit: Int
    private let label: String
    private let lock = NSLock()
    private var socket: Int32 = -1
    private var cancelled = false

    init(context: OpaquePointer?, unixSocket: String?, request: HTTPClientRequest, deadline: Date, timeout: TimeInterval,
         limit: Int) {
        self.context = context
        self.unixSocket = unixSocket
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
        let port = request.url.port ?? (context == nil ? 80 : 443)
        let fd = try unixSocket.map(connectUnix) ?? connect(bareHost, port)
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
        guard let context else {
            let io = SocketIO.plain(fd)
            try write(io, head() + request.body)
            return try readResponse(io)
        }
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
            let reason = verify == X509_V_OK ? SocketHTTPTransport.openSSLError()
                : String(cString: X509_verify_cert_error_string(verify))
            throw fail(timedOut() ? "TLS handshake timed out" : "TLS handshake failed: \(reason)")
        }
        let io = SocketIO.tls(ssl)
        try write(io, head() + request.body)
        return try readResponse(io)
    }

    /// The connection's byte stream, plain or through OpenSSL.
    private enum SocketIO {
        case plain(Int32)
        case tls(OpaquePointer)

        /// Bytes read (> 0), 0 at the end of the stream, nil on an error.
        func read(_ buffer: inout [UInt8]) -> Int? {
            switch self {
            case .plain(let fd):
                while true {
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if count >= 0 { return count }
                    if errno != EINTR { return nil }
                }
            case .tls(let ssl):
                let count = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
                if count > 0 { return Int(count) }
                let error = SSL_get_error(ssl, count)
                if error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0) { return 0 }
                return nil
            }
        }

        /// Bytes written (> 0), nil on an error.
        func write(_ bytes: ArraySlice<UInt8>) -> Int? {
            switch self {
            case .plain(let fd):
                while true {
                    let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if count > 0 { return count }
                    if count < 0 && errno == EINTR { continue }
                    return nil
                }
            case .tls(let ssl):
                let count = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
                return count > 0 ? Int(count) : nil
            }
        }

        var lastError: String {
            switch self {
            case .plain: return String(cString: strerror(errno))
            case .tls: return SocketHTTPTransport.openSSLError()
            }
        }
    }

    private func connectUnix(_ path: String) throws -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw fail("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw fail("the socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        setTimeouts(fd)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw fail("cannot connect to unix:\(path): \(reason)")
        }
        return fd
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

    private func write(_ io: SocketIO, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            guard let written = io.write(bytes[offset...]) else {
                throw fail(timedOut() ? "write timed out" : "write failed: \(io.lastError)")
            }
            offset += written
        }
    }

    private func readResponse(_ io: SocketIO) throws -> HTTPClientResponse {
        var buffer: [UInt8] = []
        var ended = false
        var chunk = [UInt8](repeating: 0, count: 16384)
        func more() throws {
            guard !ended else { return }
            if timedOut() { throw HTTPClientError.timedOut(url: label, seconds: timeout) }
            if let count = io.read(&chunk) {
                if count == 0 {
                    ended = true
                    return
                }
                buffer += chunk[0..<count]
                if buffer.count > limit + 65536 { throw HTTPClientError.responseTooLarge(url: label, limit: limit) }
                return
            }
            lock.lock()
            let stop = cancelled
            lock.unlock()
            if stop { throw HTTPClientError.cancelled }
            if timedOut() || errno == EAGAIN { throw HTTPClientError.timedOut(url: label, seconds: timeout) }
            throw fail("read failed: \(io.lastError)")
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
