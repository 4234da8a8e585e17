import COpenSSL

/// An EC or RSA public key, held as OpenSSL's EVP_PKEY and its canonical DER SPKI.
///
/// Immutable after creation, so one instance may verify from many threads.
public final class PublicKey: @unchecked Sendable, Equatable, Hashable {
    let pkey: OpaquePointer
    /// Canonical DER SubjectPublicKeyInfo (re-encoded by OpenSSL, not the caller's bytes).
    public let der: [UInt8]
    public let algorithm: KeyAlgorithm
    /// The public parameters, read once at parse time so that JWK encoding and RFC 7638
    /// thumbprints cannot fail later.
    public let parameters: Components

    /// The public parameters as JOSE needs them.
    public enum Components: Sendable, Equatable {
        /// Full-length big-endian coordinates (leading zeros kept).
        case ec(curve: KeyAlgorithm, x: [UInt8], y: [UInt8])
        /// Minimal big-endian octets (no leading zeros).
        case rsa(n: [UInt8], e: [UInt8])
    }

    init(taking pkey: OpaquePointer) throws {
        do {
            let algorithm = try keyAlgorithm(of: pkey)
            self.algorithm = algorithm
            self.der = try spkiDER(pkey)
            self.parameters = try Self.readParameters(pkey, algorithm)
            self.pkey = pkey
        } catch {
            EVP_PKEY_free(pkey)
            throw error
        }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Parses a DER SubjectPublicKeyInfo. Trailing bytes are refused.
    public convenience init(der: [UInt8]) throws {
        guard !der.isEmpty else { throw CryptoError("empty public key") }
        var parsed: OpaquePointer?
        let consumed: Int = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            parsed = d2i_PUBKEY(nil, &cursor, buffer.count)
            guard let cursor, let base = buffer.baseAddress else { return -1 }
            return cursor - base
        }
        guard let parsed else { throw CryptoError.openSSL("not a DER SubjectPublicKeyInfo") }
        guard consumed == der.count else {
            EVP_PKEY_free(parsed)
            throw CryptoError("trailing bytes after the SubjectPublicKeyInfo")
        }
        try self.init(taking: parsed)
    }

    /// Parses a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo).
    public convenience init(pem: String) throws {
        let pkey: OpaquePointer = try withMemoryBIO(Array(pem.utf8)) { bio in
            guard let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) else {
                throw CryptoError.openSSL("not a PEM public key")
            }
            return key
        }
        try self.init(taking: pkey)
    }

    /// Builds an EC public key from JOSE coordinates; the point must lie on the curve.
    public static func ec(curve: KeyAlgorithm, x: [UInt8], y: [UInt8]) throws -> PublicKey {
        let group: StaticString
        switch curve {
        case .ecP256: group = "P-256"
        case .ecP384: group = "P-384"
        case .ecP521: group = "P-521"
        case .rsa: throw CryptoError("not an EC curve")
        }
        guard let size = curve.coordinateSize, x.count == size, y.count == size else {
            throw CryptoError("EC coordinates for \(curve) must be \(curve.coordinateSize ?? 0) bytes each")
        }
        let point = [0x04] + x + y
        guard let builder = OSSL_PARAM_BLD_new() else { throw CryptoError.openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        // The builder keeps the pointers it is given until `OSSL_PARAM_BLD_to_param`, so
        // names and values must outlive that call: static strings, and the point buffer
        // kept open around it.
        return try point.withUnsafeBytes { raw in
            guard OSSL_PARAM_BLD_push_utf8_string(builder, cString("group"), cString(group), 0) == 1,
                  OSSL_PARAM_BLD_push_octet_string(builder, cString("pub"), raw.baseAddress, raw.count) == 1
            else { throw CryptoError.openSSL("building EC parameters") }
            return try fromData(builder, type: "EC")
        }
    }

    /// Builds an RSA public key from its modulus and exponent (big-endian).
    public static func rsa(n: [UInt8], e: [UInt8]) throws -> PublicKey {
        guard !n.isEmpty, !e.isEmpty else { throw CryptoError("RSA modulus and exponent must not be empty") }
        guard let builder = OSSL_PARAM_BLD_new() else { throw CryptoError.openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        let bnN = BN_bin2bn(n, Int32(n.count), nil)
        let bnE = BN_bin2bn(e, Int32(e.count), nil)
        defer { BN_free(bnN); BN_free(bnE) }
        guard bnN != nil, bnE != nil else { throw CryptoError.openSSL("BN_bin2bn") }
        guard OSSL_PARAM_BLD_push_BN(builder, cString("n"), bnN) == 1,
              OSSL_PARAM_BLD_push_BN(builder, cString("e"), bnE) == 1 else {
            throw CryptoError.openSSL("building RSA parameters")
        }
        return try fromData(builder, type: "RSA")
    }

    /// A C string pointer valid for the whole program, as OSSL_PARAM builders require.
    private static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    private static func fromData(_ builder: OpaquePointer, type: String) throws -> PublicKey {
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw CryptoError.openSSL("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata_init(ctx) == 1,
              EVP_PKEY_fromdata(ctx, &pkey, kc_selection_public_key(), params) == 1, let pkey
        else { throw CryptoError.openSSL("invalid \(type) public key") }
        let key = try PublicKey(taking: pkey)
        try key.validate()
        return key
    }

    /// OpenSSL's public-key check (RSA modulus sanity, EC point order), which neither
    /// fromdata nor d2i_PUBKEY does. The JOSE constructors run it; callers taking PEM or DER
    /// from outside run it too, so a key accepted in one form is accepted in every form.
    /// It is not part of parsing DER keycoord stored itself: for some malformed RSA moduli
    /// the check is probabilistic (Miller-Rabin with random bases), and a stored key must
    /// parse the same way every time.
    public func validate() throws {
        guard let check = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { throw CryptoError.openSSL("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(check) }
        guard EVP_PKEY_public_check(check) == 1 else {
            if case .rsa = algorithm { throw CryptoError.openSSL("invalid RSA public key") }
            throw CryptoError.openSSL("invalid EC public key")
        }
    }

    /// PEM `PUBLIC KEY` encoding.
    public var pem: String {
        PEM.encode(der, label: "PUBLIC KEY")
    }

    /// The contents of the SPKI's `subjectPublicKey` BIT STRING: no tag, length or
    /// unused-bits byte (RFC 5280 §4.2.1.2 method 1 hashes exactly these bytes).
    public var subjectPublicKeyBits: [UInt8] {
        der.withUnsafeBufferPointer { buffer -> [UInt8] in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let spki = d2i_X509_PUBKEY(nil, &cursor, buffer.count) else { return [] }
            defer { X509_PUBKEY_free(spki) }
            var bits: UnsafePointer<UInt8>?
            var length: Int32 = 0
            guard X509_PUBKEY_get0_param(nil, &bits, &length, nil, spki) == 1, let bits else { return [] }
            return Array(UnsafeBufferPointer(start: bits, count: Int(length)))
        }
    }

    /// Public parameters for JWK encoding (the same value as `parameters`).
    public func components() throws -> Components { parameters }

    private static func readParameters(_ pkey: OpaquePointer, _ algorithm: KeyAlgorithm) throws -> Components {
        switch algorithm {
        case .rsa:
            return .rsa(n: try bignumParameter(pkey, "n"), e: try bignumParameter(pkey, "e"))
        case .ecP256, .ecP384, .ecP521:
            guard let size = algorithm.coordinateSize else { throw CryptoError("no coordinate size for \(algorithm)") }
            return .ec(curve: algorithm,
                       x: try bignumParameter(pkey, "qx", width: size),
                       y: try bignumParameter(pkey, "qy", width: size))
        }
    }

    /// Verifies a signature over a precomputed digest. EC signatures are DER
    /// (use `ECDSASignature` to convert JOSE's r‖s); RSA is PKCS #1 v1.5.
    public func verify(signature: [UInt8], digest: [UInt8], hash: HashAlgorithm) -> Bool {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { return false }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_verify_init(ctx) == 1, EVP_PKEY_CTX_set_signature_md(ctx, hash.evp) == 1 else {
            ERR_clear_error()
            return false
        }
        if case .rsa = algorithm, EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 {
            ERR_clear_error()
            return false
        }
        let result = EVP_PKEY_verify(ctx, signature, signature.count, digest, digest.count)
        ERR_clear_error()
        return result == 1
    }

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool { lhs.der == rhs.der }
    public func hash(into hasher: inout Hasher) { hasher.combine(der) }
}
