#if canImport(Glibc)
import Glibc
#endif

/// The `Date` field line (RFC 9110 §6.6.1, IMF-fixdate), rendered at most once per second per
/// event loop instead of once per response.
struct DateHeaderCache {
    /// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    private(set) var line: [UInt8] = []
    /// "Sun, 06 Nov 1994 08:49:37 GMT", for HTTP/2's `date` field.
    private(set) var value = ""
    private var second: time_t = -1

    /// Re-renders the line if the wall-clock second changed.
    mutating func refresh() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        guard now.tv_sec != second else { return }
        second = now.tv_sec
        line = Self.render(now.tv_sec)
        value = String(decoding: line.dropFirst(6).dropLast(2), as: UTF8.self)
    }

    static func render(_ seconds: time_t) -> [UInt8] {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let text = "Date: \(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
        return Array(text.utf8)
    }
}
