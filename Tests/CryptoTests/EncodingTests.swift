import Crypto
import Foundation
import Testing

/// Base64URL, Hex, PEM base64 and ECDSA signature conversions, including edge cases.
@Suite struct EncodingTests {
    @Test func base64URLMatchesRFC4648Vectors() {
        let vectors = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
                       ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
        // The URL-safe alphabet, and Foundation agreeing on random input.
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        for length in 0..<40 {
            let bytes = SecureRandom.bytes(length)
            let foundation = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == foundation)
            #expect(Base64URL.decode(foundation) == bytes)
        }
    }

    @Test func base64URLDecodingIsStrict() {
        #expect(Base64URL.decode("Zg==") == nil)   // padding
        #expect(Base64URL.decode("Zm9v+g") == nil) // standard alphabet
        #expect(Base64URL.decode("Zm9v/g") == nil)
        #expect(Base64URL.decode("Zm9 v") == nil)  // whitespace
        #expect(Base64URL.decode("Zm9vY") == nil)  // impossible length
        #expect(Base64URL.decode("Zh") == nil)     // non-zero trailing bits
        #expect(Base64URL.decode("Zm9é") == nil)   // non-ASCII
    }

    @Test func hexRoundTripsAndRefusesBadInput() {
        #expect(Hex.encode([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
        #expect(Hex.decode("000fa0ff") == [0x00, 0x0F, 0xA0, 0xFF])
        #expect(Hex.decode("ABCDEF") == [0xAB, 0xCD, 0xEF])
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("0x") == nil)
    }

    @Test func pemArmourAndStandardBase64() throws {
        let der = SecureRandom.bytes(100)
        let pem = PEM.encode(der, label: "TEST")
        let lines = pem.split(separator: "\n")
        #expect(lines.first == "-----BEGIN TEST-----" && lines.last == "-----END TEST-----")
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.count <= 64 })
        #expect(PEM.base64(der) == Data(der).base64EncodedString())
        #expect(PEM.decodeBase64(Data(der).base64EncodedString()) == der)
        #expect(PEM.decodeBase64("ab-_") == nil)
    }

    @Test(arguments: [(KeyAlgorithm.ecP256, HashAlgorithm.sha256), (.ecP384, .sha384)])
    func ecdsaDERAndRawConvertBothWays(curve: KeyAlgorithm, hash: HashAlgorithm) throws {
        let key = try PrivateKey.generate(curve)
        let size = try #require(curve.coordinateSize)
        for index in 0..<20 {
            let digest = Digest.hash(hash, Array("message \(index)".utf8))
            let der = try key.sign(digest: digest, hash: hash)
            let raw = try ECDSASignature.raw(fromDER: der, coordinateSize: size)
            #expect(raw.count == 2 * size)
            let back = try ECDSASignature.der(fromRaw: raw)
            #expect(back == der)
            #expect(key.publicKey.verify(signature: back, digest: digest, hash: hash))
        }
    }

    @Test func ecdsaConversionKeepsLeadingZerosAndRefusesBadInput() throws {
        // r = 1 and s with a leading zero byte: raw form keeps full width.
        var raw = [UInt8](repeating: 0, count: 64)
        raw[31] = 1
        raw[33] = 0x7F
        let der = try ECDSASignature.der(fromRaw: raw)
        #expect(try ECDSASignature.raw(fromDER: der, coordinateSize: 32) == raw)
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: der + [0], coordinateSize: 32) }
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: [0x30, 0x01], coordinateSize: 32) }
        #expect(throws: CryptoError.self) { try ECDSASignature.der(fromRaw: [1, 2, 3]) }
        #expect(throws: CryptoError.self) { try ECDSASignature.der(fromRaw: []) }
        // A P-384 signature does not fit P-256 coordinates.
        let wide = try ECDSASignature.der(fromRaw: [UInt8](repeating: 0xFF, count: 96))
        #expect(throws: CryptoError.self) { try ECDSASignature.raw(fromDER: wide, coordinateSize: 32) }
    }

    /// What a caller that wants DER accepts as it is: one signature, coordinates that fit.
    @Test func derCheckRefusesWhatTheConversionRefuses() throws {
        var raw = [UInt8](repeating: 0, count: 64)
        raw[31] = 1
        raw[33] = 0x7F
        let der = try ECDSASignature.der(fromRaw: raw)
        try ECDSASignature.checkDER(der, coordinateSize: 32)
        let signed = try PrivateKey.generate(.ecP384).sign(digest: Digest.sha384([1]), hash: .sha384)
        try ECDSASignature.checkDER(signed, coordinateSize: 48)
        #expect(throws: CryptoError.self) { try ECDSASignature.checkDER(der + [0], coordinateSize: 32) }
        #expect(throws: CryptoError.self) { try ECDSASignature.checkDER([0x30, 0x01], coordinateSize: 32) }
        #expect(throws: CryptoError.self) { try ECDSASignature.checkDER([], coordinateSize: 32) }
        let wide = try ECDSASignature.der(fromRaw: [UInt8](repeating: 0xFF, count: 96))
        #expect(throws: CryptoError.self) { try ECDSASignature.checkDER(wide, coordinateSize: 32) }
    }

    @Test func digestsMatchKnownVectors() {
        #expect(Hex.encode(Digest.sha1(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha384([]).count == 48)
        #expect(constantTimeEquals([1, 2], [1, 2]) && !constantTimeEquals([1, 2], [1, 3]) && !constantTimeEquals([1], [1, 2]))
    }
}
