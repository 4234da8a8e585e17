import Foundation

extension Duration {
    /// The duration in seconds, as Foundation's date arithmetic needs it. Internal, so it
    /// cannot clash with the same helper in a module that imports Core.
    var timeInterval: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
