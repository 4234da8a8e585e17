/// Checks for user-supplied strings that become path components, so no input can name a
/// file outside the directory it is meant for.
public enum SafeName {
    /// A SPIFFE trust domain name used as a file name: 1–255 bytes of lowercase letters,
    /// digits, `-`, `_` and `.`, in dot-separated labels of 1–63 bytes (so never `.`, `..`,
    /// a leading or trailing dot, or anything holding `/`).
    public static func isTrustDomain(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...255).contains(bytes.count) else { return false }
        var label = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard label > 0 else { return false }
                label = 0
                continue
            }
            let allowed = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            guard allowed else { return false }
            label += 1
            guard label <= 63 else { return false }
        }
        return label > 0
    }
}
