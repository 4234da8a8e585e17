import COpenSSL

/// Converts ECDSA signatures between DER (what OpenSSL and KMS APIs produce) and the
/// fixed-width r‖s form JOSE uses (RFC 7518 §3.4).
public enum ECDSASignature {
    /// Converts a DER `ECDSA-Sig-Value` to r‖s with `size`-byte halves. Trailing bytes are refused.
    public static func raw(fromDER der: [UInt8], coordinateSize size: Int) throws -> [UInt8] {
        try withParsed(der, coordinateSize: size) { r, s in
            var out = [UInt8](repeating: 0, count: size * 2)
            let ok = out.withUnsafeMutableBufferPointer { buffer in
                BN_bn2binpad(r, buffer.baseAddress, Int32(size)) == Int32(size)
                    && BN_bn2binpad(s, buffer.baseAddress! + size, Int32(size)) == Int32(size)
            }
            guard ok else { throw CryptoError("ECDSA signature does not fit \(size)-byte coordinates") }
            return out
        }
    }

    /// Checks that `der` is one DER `ECDSA-Sig-Value` whose r and s fit `size`-byte
    /// coordinates, without converting it: what a caller that wants DER accepts.
    public static func checkDER(_ der: [UInt8], coordinateSize size: Int) throws {
        try withParsed(der, coordinateSize: size) { r, s in
            // BN_num_bytes is a C macro over BN_num_bits.
            guard (BN_num_bits(r) + 7) / 8 <= Int32(size), (BN_num_bits(s) + 7) / 8 <= Int32(size) else {
                throw CryptoError("ECDSA signature does not fit \(size)-byte coordinates")
            }
        }
    }

    /// Parses `der` (all of it) and hands its r and s to `body`.
    private static func withParsed<T>(_ der: [UInt8], coordinateSize size: Int,
                                      _ body: (OpaquePointer?, OpaquePointer?) throws -> T) throws -> T {
        guard size > 0 else { throw CryptoError("coordinate size must be positive") }
        var consumed = 0
        let sig: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let parsed = d2i_ECDSA_SIG(nil, &cursor, buffer.count)
            if let cursor, let base = buffer.baseAddress { consumed = cursor - base }
            return parsed
        }
        guard let sig else { throw CryptoError.openSSL("not a DER ECDSA signature") }
        defer { ECDSA_SIG_free(sig) }
        guard consumed == der.count else { throw CryptoError("trailing bytes after the DER ECDSA signature") }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(sig, &r, &s)
        return try body(r, s)
    }

    /// Converts JOSE's r‖s (two equal halves) to a DER `ECDSA-Sig-Value`.
    public static func der(fromRaw raw: [UInt8]) throws -> [UInt8] {
        guard raw.count % 2 == 0, !raw.isEmpty else { throw CryptoError("raw ECDSA signature must have an even, non-zero length") }
        let half = raw.count / 2
        guard let sig = ECDSA_SIG_new() else { throw CryptoError.openSSL("ECDSA_SIG_new") }
        defer { ECDSA_SIG_free(sig) }
        let r = BN_bin2bn(raw, Int32(half), nil)
        let s = Array(raw[half...]).withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(half), nil) }
        guard let r, let s else {
            BN_free(r); BN_free(s)
            throw CryptoError.openSSL("BN_bin2bn")
        }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r); BN_free(s)
            throw CryptoError.openSSL("ECDSA_SIG_set0")
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { throw CryptoError.openSSL("i2d_ECDSA_SIG") }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_ECDSA_SIG(sig, &cursor)
        }
        return out
    }
}
