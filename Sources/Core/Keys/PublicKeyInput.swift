import Crypto

/// Reads a public key handed to keycoord by a SPIRE server or an operator: PEM
/// (`PUBLIC KEY`), DER SubjectPublicKeyInfo (raw or base64), or a JWK. Every failure is
/// a `CoordinationError.invalid` that says what was expected.
public enum PublicKeyInput {
    /// Parses `input`, detecting the form from its first bytes.
    public static func parse(_ input: [UInt8]) throws -> PublicKey {
        // DER is binary: its trailing bytes may look like whitespace, so it is never trimmed.
        if input.first == 0x30 {
            return try der(input)
        }
        let trimmed = Array(input.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        guard let first = trimmed.first else { throw CoordinationError.invalid("public key is empty") }
        if first == UInt8(ascii: "{") {
            return try JWK.parse(trimmed).publicKey()
        }
        let text = String(decoding: trimmed, as: UTF8.self)
        if text.hasPrefix("-----BEGIN") {
            return try pem(text)
        }
        if let decoded = PEM.decodeBase64(text), decoded.first == 0x30 {
            return try der(decoded)
        }
        throw CoordinationError.invalid("public key must be a PEM PUBLIC KEY block, a DER SubjectPublicKeyInfo or a JWK")
    }

    /// Parses `text` (PEM, base64 DER or JWK JSON).
    public static func parse(_ text: String) throws -> PublicKey {
        try parse(Array(text.utf8))
    }

    /// The key type of `key` if it is one SPIRE signs JWTs with; other keys are refused,
    /// since no SPIRE server could have minted them.
    public static func keyType(of key: PublicKey) throws -> KeyType {
        guard let type = KeyType(key.algorithm) else {
            let allowed = KeyType.allCases.map(\.rawValue).joined(separator: ", ")
            throw CoordinationError.invalid("\(key.algorithm) keys are not accepted; SPIRE JWT key types are \(allowed)")
        }
        return type
    }

    private static func pem(_ text: String) throws -> PublicKey {
        guard text.hasPrefix("-----BEGIN PUBLIC KEY-----") else {
            if text.contains("PRIVATE KEY") {
                throw CoordinationError.invalid("a private key was sent; send the PEM PUBLIC KEY only")
            }
            throw CoordinationError.invalid("PEM block must be a PUBLIC KEY (SubjectPublicKeyInfo)")
        }
        do {
            let key = try PublicKey(pem: text)
            try key.validate()
            return key
        } catch let error as CryptoError {
            throw CoordinationError.invalid("PEM public key is invalid: \(error.message)")
        }
    }

    private static func der(_ bytes: [UInt8]) throws -> PublicKey {
        do {
            let key = try PublicKey(der: bytes)
            try key.validate()
            return key
        } catch let error as CryptoError {
            throw CoordinationError.invalid("DER public key is invalid: \(error.message)")
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
}
