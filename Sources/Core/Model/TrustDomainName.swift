/// SPIFFE trust domain names (SPIFFE-ID §2.1): lowercase letters, digits, `.`, `-`, `_`,
/// at most 255 bytes. keycoord uses them in file names and lock names, so the check is
/// also what keeps input out of paths.
public enum TrustDomainName {
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...255).contains(bytes.count), bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: "."),
              !name.contains("..")
        else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
    }
}
