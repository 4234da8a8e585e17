import Foundation

extension Duration {
    /// The duration in seconds, as Foundation's date arithmetic, metrics and timers need it.
    /// The one conversion every module uses.
    public var timeInterval: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
