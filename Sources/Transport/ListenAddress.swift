/// Where a listener binds: a TCP host and port, or a unix domain socket path.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal, or "localhost" (IPv4 loopback); port 0 asks for an ephemeral port.
    case tcp(host: String, port: Int)
    /// A filesystem path; an existing socket file there is replaced.
    case unix(path: String)

    /// Why a listen address string was refused.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let input: String
        public let reason: String
        public var description: String { "invalid listen address \"\(input)\": \(reason)" }
    }

    /// Parses "127.0.0.1:8080", "[::1]:8080", ":8080" (all IPv4 interfaces), "localhost:8080"
    /// or "unix:/path/to.sock".
    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ParseError(input: text, reason: "empty socket path") }
            guard path.utf8.count < 108 else { throw ParseError(input: text, reason: "socket path longer than 107 bytes") }
            self = .unix(path: path)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ParseError(input: text, reason: "missing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ParseError(input: text, reason: "missing :port") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ParseError(input: text, reason: "missing :port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw ParseError(input: text, reason: "IPv6 addresses must be in brackets") }
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ParseError(input: text, reason: "port must be a number from 0 to 65535")
        }
        let hostName = host.isEmpty ? "0.0.0.0" : String(host)
        guard SocketAddress.isValidHost(hostName) else {
            throw ParseError(input: text, reason: "host must be an IP literal or localhost")
        }
        self = .tcp(host: hostName, port: port)
    }

    /// The form `init(parsing:)` reads.
    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path):
            return "unix:\(path)"
        }
    }
}
