import Foundation

/// Times on the wire: RFC 3339 in UTC, whole seconds (`2026-11-27T05:00:00Z`); input
/// may carry fractional seconds and any offset.
public enum WireTime {
    public static func format(_ date: Date) -> String { RFC3339.format(date) }

    public static func parse(_ text: String) -> Date? { RFC3339.parse(text) }
}
