import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 {
            precondition(RAND_bytes(&out, Int32(count)) == 1, "RAND_bytes failed")
        }
        return out
    }

    /// A random token as lowercase hex, for lease ids, request ids and bearer tokens.
    public static func hexToken(bytes count: Int = 16) -> String { Hex.encode(bytes(count)) }
}
