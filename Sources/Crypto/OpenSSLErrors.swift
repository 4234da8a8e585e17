import COpenSSL

/// OpenSSL's per-thread error queue, read in one place for every module that calls OpenSSL.
public enum OpenSSLErrors {
    /// The reasons queued on this thread, oldest first; the queue is left empty, so a stale
    /// reason never leaks into the next failure report.
    public static func drain() -> [String] {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons
    }

    /// `context`, followed by the drained reasons when there are any.
    public static func describe(_ context: String) -> String {
        let reasons = drain()
        return reasons.isEmpty ? context : "\(context): \(reasons.joined(separator: "; "))"
    }
}
