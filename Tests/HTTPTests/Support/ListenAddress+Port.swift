import Transport

extension ListenAddress {
    /// The TCP port, nil for a unix socket: for `#require` in tests.
    var tcpPort: Int? {
        if case .tcp(_, let port) = self { return port }
        return nil
    }

    var tcpHost: String? {
        if case .tcp(let host, _) = self { return host }
        return nil
    }
}
