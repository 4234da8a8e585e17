// A deliberately trivial keep-alive responder whose readiness comes from Dispatch read
// sources, used by run.sh to measure the alternative design HTTPServer did not take. It does
// no parsing (counts "\r\n\r\n" per read) and writes the same bytes as HTTPBenchServer, so it
// is an upper bound for a Dispatch-driven server. Built with swiftc outside SwiftPM:
//   swiftc -O -swift-version 5 bench/http/DispatchProbe.swift -o PROBE && PROBE PORT BODYFILE
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let port = UInt16(CommandLine.arguments[1]) ?? 18082
let body = FileManager.default.contents(atPath: CommandLine.arguments[2]).map { [UInt8]($0) } ?? []
let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: public, max-age=300\r\n"
    + "Content-Length: \(body.count)\r\nDate: Fri, 27 Nov 2026 00:00:00 GMT\r\n\r\n"
let response = Array(head.utf8) + body

final class ProbeConnection {
    let fd: Int32
    var source: DispatchSourceRead?
    var buffer = [UInt8](repeating: 0, count: 65536)
    var tail: [UInt8] = []
    init(fd: Int32) { self.fd = fd }

    func readable() {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 {
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            source?.cancel()
            source = nil
            return
        }
        var bytes = tail + buffer[0..<count]
        var requests = 0
        var index = 0
        while index + 3 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
                requests += 1
                bytes.removeFirst(index + 4)
                index = 0
            } else {
                index += 1
            }
        }
        tail = bytes
        guard requests > 0 else { return }
        var out: [UInt8] = []
        for _ in 0..<requests { out += response }
        var offset = 0
        while offset < out.count {
            let sent = out[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }
            offset += sent
        }
    }
}

let cores = ProcessInfo.processInfo.activeProcessorCount
let queues = (0..<cores).map { DispatchQueue(label: "probe-\($0)") }
let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
var one: Int32 = 1
setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = port.bigEndian
address.sin_addr.s_addr = inet_addr("127.0.0.1")
_ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
listen(listener, 4096)
_ = fcntl(listener, F_SETFL, O_NONBLOCK)

var next = 0
let acceptSource = DispatchSource.makeReadSource(fileDescriptor: listener, queue: DispatchQueue(label: "accept"))
acceptSource.setEventHandler {
    while true {
        let fd = accept(listener, nil, nil)
        if fd < 0 { return }
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let connection = ProbeConnection(fd: fd)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queues[next % cores])
        next += 1
        connection.source = source
        source.setEventHandler { connection.readable() }
        source.setCancelHandler { close(fd) }
        source.resume()
    }
}
acceptSource.resume()
print("listening on 127.0.0.1:\(port)")
fflush(stdout)
dispatchMain()
