import Foundation

/// Parses and prints durations the way operators write them: `90s`, `15m`, `24h`,
/// `1h30m`, `500ms`, `7d`. A bare number is seconds.
public enum DurationFormat {
    /// The longest duration accepted, 100 years: far beyond any sensible setting, and small
    /// enough that no arithmetic on a parsed duration (sums, `format`) can overflow.
    public static let maximumMilliseconds: Int64 = 100 * 365 * 86_400_000

    /// The duration `text` names, or nil when it is not one or exceeds the maximum.
    public static func parse(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { return nil }
        if let seconds = Int64(s), seconds >= 0 {
            return seconds <= maximumMilliseconds / 1000 ? .seconds(seconds) : nil
        }
        var totalMilliseconds: Int64 = 0
        var digits = ""
        var unit = ""
        var sawComponent = false
        func flush() -> Bool {
            guard let value = Int64(digits), !unit.isEmpty else { return false }
            let factor: Int64
            switch unit {
            case "ms": factor = 1
            case "s": factor = 1000
            case "m": factor = 60_000
            case "h": factor = 3_600_000
            case "d": factor = 86_400_000
            default: return false
            }
            // Checked before multiplying: an operator's typo must be refused, not trap.
            guard value <= (maximumMilliseconds - totalMilliseconds) / factor else { return false }
            totalMilliseconds += value * factor
            digits = ""
            unit = ""
            sawComponent = true
            return true
        }
        for c in s {
            if c.isASCII, c.isNumber {
                if !unit.isEmpty { guard flush() else { return nil } }
                digits.append(c)
            } else if c.isASCII, c.isLetter {
                guard !digits.isEmpty else { return nil }
                unit.append(c)
            } else {
                return nil
            }
        }
        guard flush(), sawComponent else { return nil }
        return .milliseconds(totalMilliseconds)
    }

    /// The shortest exact rendering, e.g. `24h`, `15m`, `1h30m`, `250ms`.
    public static func format(_ duration: Duration) -> String {
        var ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= size {
            out += "\(ms / size)\(unit)"
            ms %= size
        }
        return out
    }
}
