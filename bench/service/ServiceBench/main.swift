// Load client for the control API of running keycoord sidecars (bench/service/run.sh).
//
//   ServiceBench lock-cycle --port P --token T --clients 1,16,64 --seconds 10
//       Each client, on its own keep-alive connection and its own lock name, loops
//       POST /v1/locks/{name} then DELETE /v1/locks/{name}?lease_id=…; reports cycles/s, p50, p99.
//   ServiceBench hot-lock --port P --token T --clients 16 --seconds 10
//       Every client, on its own connection, loops acquire (wait_seconds 10) and release of ONE
//       lock name: the hand-off rate of a contended lock, and how evenly waiters are served
//       (each client's share of the cycles against the mean).
//   ServiceBench ensure --port P --token T --clients 16 --seconds 10
//       POST /v1/jwt-keys/ec-p256/ensure on the fast path (the key exists).
//   ServiceBench propagation --port P --public-port Q --token T --count 50
//       Publishes a key through one sidecar and times until another sidecar's JWKS has it.
// The load modes multiplex their clients over two threads, as pgbench -j 2 does for the floor.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking keep-alive HTTP/1.1 client connection, kept cheap: it runs in the measured chain
/// (client → keycoord → PostgreSQL → keycoord → client), so its own CPU time per request adds
/// to every latency it reports. One receive buffer is reused; heads are scanned as bytes.
struct Connection {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    init(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(result == 0, "connect to \(port) failed")
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sends one request and returns (status, body).
    mutating func call(_ method: String, _ path: String, token: String, body: String? = nil) -> (Int, String) {
        send(Request(method: method, path: path, body: body), token: token)
        while true {
            if let response = takeResponse() { return response }
            fill()
        }
    }

    /// Sends one request without waiting for its answer (requests are small: a blocking
    /// send never waits here).
    func send(_ request: Request, token: String) {
        var head = "\(request.method) \(request.path) HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer \(token)\r\n"
        if let body = request.body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        let bytes = Array((head + "\r\n" + (request.body ?? "")).utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            precondition(n > 0, "send failed")
            sent += n
        }
    }

    /// The next complete response in what was received, if there is one.
    mutating func takeResponse() -> (Int, String)? {
        guard let end = headEnd() else { return nil }
        let length = contentLength(before: end)
        guard buffer.count >= end + 4 + length else { return nil }
        let status = Self.number(in: buffer, from: 9)  // "HTTP/1.1 " is 9 bytes
        let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        buffer.removeFirst(end + 4 + length)
        return (status, body)
    }

    /// One receive of what has arrived (blocks only if nothing has).
    mutating func fill() {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        precondition(n > 0, "connection closed")
        buffer.append(contentsOf: chunk[0..<n])
    }

    /// Index of the CR of the blank line ending the head.
    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// The Content-Length header's value (0 without one); the name is matched case-insensitively.
    private func contentLength(before end: Int) -> Int {
        let name = Array("\r\ncontent-length:".utf8)
        guard end >= name.count else { return 0 }
        for i in 0...(end - name.count) where zip(buffer[i..<(i + name.count)], name).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
            var start = i + name.count
            while buffer[start] == 32 { start += 1 }
            return Self.number(in: buffer, from: start)
        }
        return 0
    }

    private static func number(in bytes: [UInt8], from start: Int) -> Int {
        var value = 0
        var index = start
        while index < bytes.count, (48...57).contains(bytes[index]) {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
        }
        return value
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// The value of a string member `"name":"…"` (no escapes inside: keycoord's lease ids are hex),
/// without a JSON parser in the measured chain.
func stringMember(_ name: String, in text: String) -> String {
    guard let start = text.range(of: "\"\(name)\":\"")?.upperBound,
          let end = text[start...].firstIndex(of: "\"") else { return "" }
    return String(text[start..<end])
}

func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
}

/// One HTTP request of a client's cycle.
struct Request {
    let method: String
    let path: String
    let body: String?
}

/// A client's cycle as steps: the request of step `step`, given the previous step's response
/// (nil at step 0); nil once the cycle is complete.
typealias Script = @Sendable (_ client: Int, _ step: Int, _ previous: (status: Int, body: String)?) -> Request?

/// Runs `clients` clients, each on its own keep-alive connection looping `script` for
/// `seconds`, multiplexed over `min(clients, 2)` threads with poll() — the shape of the
/// pgbench floor (`-j min(N, 2)`), so the client's threads compete with keycoord for the
/// two cores no more than pgbench's do with PostgreSQL. A cycle's latency runs from its
/// first request to its last response; cycles started before the deadline are counted.
/// `perClient` is how many cycles each client completed (fairness under contention).
func load(clients: Int, seconds: Double, port: Int, token: String,
          _ script: @escaping Script) -> (count: Int, rate: Double, p50: Double, p99: Double, perClient: [Int]) {
    let lock = NSLock()
    nonisolated(unsafe) var all: [Double] = []
    nonisolated(unsafe) var perClient = [Int](repeating: 0, count: clients)
    let group = DispatchGroup()
    let deadline = now() + seconds
    let threads = min(clients, 2)
    for thread in 0..<threads {
        group.enter()
        Thread.detachNewThread {
            let mine = Array(stride(from: thread, to: clients, by: threads))
            var connections = mine.map { _ in Connection(port: port) }
            var descriptors = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            var steps = [Int](repeating: 0, count: mine.count)
            var started = [Double](repeating: now(), count: mine.count)
            var local: [Double] = []
            var counts = [Int](repeating: 0, count: mine.count)
            for index in mine.indices {
                connections[index].send(script(mine[index], 0, nil)!, token: token)
            }
            var active = mine.count
            while active > 0 {
                // One connection waits in its own recv, as a blocking client would: no poll call.
                if descriptors.count == 1 {
                    descriptors[0].revents = Int16(POLLIN)
                } else if poll(&descriptors, nfds_t(descriptors.count), 1000) <= 0 {
                    continue
                }
                for index in descriptors.indices where descriptors[index].revents != 0 {
                    descriptors[index].revents = 0
                    connections[index].fill()
                    while let response = connections[index].takeResponse() {
                        steps[index] += 1
                        if let next = script(mine[index], steps[index], response) {
                            connections[index].send(next, token: token)
                            continue
                        }
                        let finished = now()
                        local.append((finished - started[index]) * 1000)
                        counts[index] += 1
                        if finished < deadline {
                            steps[index] = 0
                            started[index] = finished
                            connections[index].send(script(mine[index], 0, nil)!, token: token)
                        } else {
                            descriptors[index].fd = -1
                            active -= 1
                        }
                    }
                }
            }
            connections.forEach { close($0.fd) }
            lock.lock()
            all.append(contentsOf: local)
            for (index, client) in mine.enumerated() { perClient[client] = counts[index] }
            lock.unlock()
            group.leave()
        }
    }
    group.wait()
    let sorted = all.sorted()
    return (sorted.count, Double(sorted.count) / seconds, percentile(sorted, 0.5), percentile(sorted, 0.99), perClient)
}

/// The lock cycle on `name(client)`: acquire (with `wait` seconds), then release the lease.
func lockCycle(wait: Int, _ name: @escaping @Sendable (Int) -> String) -> Script {
    let acquire = wait > 0 ? #"{"holder":"bench","ttl_seconds":30,"wait_seconds":\#(wait)}"# : #"{"holder":"bench","ttl_seconds":30}"#
    return { client, step, previous in
        switch step {
        case 0:
            return Request(method: "POST", path: "/v1/locks/\(name(client))", body: acquire)
        case 1:
            let (status, body) = previous!
            precondition(status == 200, "acquire: \(status) \(body)")
            return Request(method: "DELETE", path: "/v1/locks/\(name(client))?lease_id=\(stringMember("lease_id", in: body))", body: nil)
        default:
            let (status, body) = previous!
            precondition(status == 204, "release: \(status) \(body)")
            return nil
        }
    }
}

/// An RFC 3339 time `seconds` from now, for not_after values within keycoord's bound.
func rfc3339(fromNow seconds: Double) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: Date().addingTimeInterval(seconds))
}

var options: [String: String] = [:]
let arguments = CommandLine.arguments
var index = 2
while index + 1 < arguments.count { options[String(arguments[index].dropFirst(2))] = arguments[index + 1]; index += 2 }
let mode = arguments.count > 1 ? arguments[1] : ""
let port = Int(options["port"] ?? "") ?? 8081
let token = options["token"] ?? ""
let seconds = Double(options["seconds"] ?? "") ?? 10
let run = SecureTag.make()

enum SecureTag {
    static func make() -> String { String(UInt32.random(in: 0...UInt32.max), radix: 16) }
}

switch mode {
case "lock-cycle":
    for clients in (options["clients"] ?? "1,16,64").split(separator: ",").compactMap({ Int($0) }) {
        let result = load(clients: clients, seconds: seconds, port: port, token: token, lockCycle(wait: 0) { "bench-\(run)-\($0)" })
        print(String(format: "| keycoord HTTP API | %d | %d | %.0f | %.2f | %.2f |", clients, result.count, result.rate, result.p50, result.p99))
    }
case "hot-lock":
    let clients = Int(options["clients"] ?? "") ?? 16
    let name = "bench-hot-\(run)"
    let result = load(clients: clients, seconds: seconds, port: port, token: token, lockCycle(wait: 10) { _ in name })
    let mean = Double(result.count) / Double(max(clients, 1))
    let lowest = Double(result.perClient.min() ?? 0) / max(mean, 1)
    print(String(format: "| keycoord HTTP API, one lock | %d | %d | %.0f | %.2f | %.2f | %.2f |",
                 clients, result.count, result.rate, result.p50, result.p99, lowest))
case "ensure":
    let clients = Int(options["clients"] ?? "") ?? 16
    let result = load(clients: clients, seconds: seconds, port: port, token: token) { client, step, previous in
        guard let (status, body) = previous else {
            return Request(method: "POST", path: "/v1/jwt-keys/ec-p256/ensure", body: #"{"server_id":"bench-\#(client)"}"#)
        }
        precondition(status == 200 && step == 1, "ensure: \(status) \(body)")
        return nil
    }
    print(String(format: "| ensure (fast path) | %d | %d | %.0f | %.2f | %.2f |", clients, result.count, result.rate, result.p50, result.p99))
case "propagation":
    let publicPort = Int(options["public-port"] ?? "") ?? 8080
    let count = Int(options["count"] ?? "") ?? 50
    let pems = (options["pem-file"].flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "")
        .components(separatedBy: "-----END PUBLIC KEY-----").filter { $0.contains("BEGIN") }.map { $0 + "-----END PUBLIC KEY-----\n" }
    var control = Connection(port: port)
    var observer = Connection(port: publicPort)
    var delays: [Double] = []
    for pem in pems.prefix(count) {
        let escaped = pem.replacingOccurrences(of: "\n", with: "\\n")
        let (status, body) = control.call("POST", "/v1/keys", token: token,
                                          body: #"{"public_key":"\#(escaped)","not_after":"\#(rfc3339(fromNow: 3600))","server_id":"bench"}"#)
        precondition(status == 200, "publish: \(status) \(body)")
        let kid = json(body)["kid"] as? String ?? ""
        let started = now()
        while true {
            let (_, jwks) = observer.call("GET", "/keys", token: token)
            if jwks.contains(kid) { break }
        }
        delays.append((now() - started) * 1000)
        // Revoke so the JWKS stays under its limits whatever the count.
        _ = control.call("DELETE", "/v1/keys/\(kid)", token: token)
    }
    let sorted = delays.sorted()
    print(String(format: "| publish on sidecar A → in sidecar B's JWKS | %d | p50 %.1f ms | p99 %.1f ms | max %.1f ms |",
                 sorted.count, percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.last ?? 0))
default:
    FileHandle.standardError.write(Data("usage: ServiceBench lock-cycle|hot-lock|ensure|propagation --port P --token T ...\n".utf8))
    exit(2)
}
