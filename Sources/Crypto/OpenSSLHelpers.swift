import COpenSSL

/// Reads everything written to a memory BIO.
func readMemoryBIO(_ bio: OpaquePointer) -> [UInt8] {
    var pointer: UnsafeMutablePointer<CChar>?
    let length = kc_bio_get_mem_data(bio, &pointer)
    guard let pointer, length > 0 else { return [] }
    return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
}

/// A read-only memory BIO over `text`, freed after `body`.
func withMemoryBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
            throw CryptoError.openSSL("BIO_new_mem_buf")
        }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}

/// Reads a BIGNUM parameter of a key as a big-endian byte string, padded to `width` when given.
func bignumParameter(_ pkey: OpaquePointer, _ name: String, width: Int? = nil) throws -> [UInt8] {
    var bn: OpaquePointer?
    guard EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, let bn else {
        throw CryptoError.openSSL("reading key parameter \(name)")
    }
    defer { BN_free(bn) }
    let natural = Int((BN_num_bits(bn) + 7) / 8)
    let size = max(width ?? natural, natural)
    var out = [UInt8](repeating: 0, count: size)
    guard BN_bn2binpad(bn, &out, Int32(size)) == Int32(size) else { throw CryptoError.openSSL("BN_bn2binpad") }
    return out
}

/// Identifies the algorithm of an EVP_PKEY, or throws for kinds keycoord does not handle.
func keyAlgorithm(of pkey: OpaquePointer) throws -> KeyAlgorithm {
    let base = EVP_PKEY_get_base_id(pkey)
    if base == kc_pkey_rsa() {
        return .rsa(bits: Int(EVP_PKEY_get_bits(pkey)))
    }
    if base == kc_pkey_ec() {
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_utf8_string_param(pkey, "group", &buffer, buffer.count, &length) == 1 else {
            throw CryptoError.openSSL("reading EC group")
        }
        let name = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let curve = KeyAlgorithm.curve(named: name) else {
            throw CryptoError("unsupported EC curve \(name)")
        }
        return curve
    }
    throw CryptoError("unsupported key type (only EC and RSA keys are accepted)")
}

/// DER SubjectPublicKeyInfo of a key. EC points are always encoded uncompressed: OpenSSL
/// keeps the form a key was parsed in, but kids hash these bytes and SPIRE (Go's
/// `x509.MarshalPKIXPublicKey`) always hashes the uncompressed point.
func spkiDER(_ pkey: OpaquePointer) throws -> [UInt8] {
    if EVP_PKEY_get_base_id(pkey) == kc_pkey_ec(),
       EVP_PKEY_set_utf8_string_param(pkey, "point-format", "uncompressed") != 1 {
        throw CryptoError.openSSL("setting the EC point format")
    }
    let length = i2d_PUBKEY(pkey, nil)
    guard length > 0 else { throw CryptoError.openSSL("i2d_PUBKEY") }
    var out = [UInt8](repeating: 0, count: Int(length))
    try out.withUnsafeMutableBufferPointer { buffer in
        var cursor = buffer.baseAddress
        guard i2d_PUBKEY(pkey, &cursor) == length else { throw CryptoError.openSSL("i2d_PUBKEY") }
    }
    return out
}
