import Crypto
import Foundation
import TestSupport
import Testing

/// PublicKey parsing, the `.ec`/`.rsa` constructors and the SPKI bits that kids hash.
@Suite struct PublicKeyTests {
    @Test(arguments: [KeyAlgorithm.ecP256, .ecP384, .ecP521])
    func ecConstructorRebuildsTheKey(curve: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(curve).publicKey
        let (x, y) = try #require(key.ecPoint)
        #expect(key.algorithm == curve)
        #expect(x.count == curve.coordinateSize && y.count == curve.coordinateSize)
        let rebuilt = try PublicKey.ec(curve: curve, x: x, y: y)
        #expect(rebuilt.der == key.der)
        // The subjectPublicKey bits are the uncompressed X9.62 point.
        #expect(key.subjectPublicKeyBits == [0x04] + x + y)
    }

    @Test func ecConstructorRejectsOffCurvePointsAndWrongLengths() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let (x, y) = try #require(key.ecPoint)
        var offCurve = y
        offCurve[31] ^= 1
        #expect(throws: CryptoError.self) { try PublicKey.ec(curve: .ecP256, x: x, y: offCurve) }
        #expect(throws: CryptoError.self) { try PublicKey.ec(curve: .ecP256, x: Array(x.dropFirst()), y: y) }
        #expect(throws: CryptoError.self) { try PublicKey.ec(curve: .ecP256, x: x + [0], y: y + [0]) }
        #expect(throws: CryptoError.self) { try PublicKey.ec(curve: .ecP384, x: x, y: y) }
        #expect(throws: CryptoError.self) { try PublicKey.ec(curve: .rsa(bits: 2048), x: x, y: y) }
        #expect(throws: CryptoError.self) {
            try PublicKey.ec(curve: .ecP256, x: Array(repeating: 0, count: 32), y: Array(repeating: 0, count: 32))
        }
    }

    @Test func rsaConstructorRebuildsTheKeyAndRejectsBadInput() throws {
        let key = try PrivateKey.generate(.rsa(bits: 2048)).publicKey
        let (n, e) = try #require(key.rsaComponents)
        #expect(e == [0x01, 0x00, 0x01])
        #expect(n.count == 256 && n[0] != 0)
        #expect(try PublicKey.rsa(n: n, e: e).der == key.der)
        #expect(throws: CryptoError.self) { try PublicKey.rsa(n: [], e: e) }
        #expect(throws: CryptoError.self) { try PublicKey.rsa(n: n, e: []) }
        #expect(throws: CryptoError.self) { try PublicKey.rsa(n: n, e: [0x02]) }
    }

    @Test func derParsingIsStrict() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        #expect(throws: CryptoError.self) { try PublicKey(der: []) }
        #expect(throws: CryptoError.self) { try PublicKey(der: key.der + [0]) }
        #expect(throws: CryptoError.self) { try PublicKey(der: Array(key.der.dropLast())) }
        #expect(throws: CryptoError.self) { try PublicKey(pem: "not pem") }
    }

    /// `validate` refuses what the JOSE constructors refuse: the public-key-input fuzzer
    /// found an RSA SPKI with a broken modulus that parsed as DER while its own JWK was
    /// refused. Parsing DER alone stays as it was (stored keys re-parse deterministically).
    @Test func validateRefusesWhatTheJOSEConstructorsRefuse() throws {
        let key = try PrivateKey.generate(.rsa(bits: 2048)).publicKey
        let n = try #require(key.rsaComponents).n
        var even = n
        even[even.count - 1] &= 0xFE
        // SPKI for rsaEncryption with modulus `even` and exponent 65537, built by hand.
        func length(_ count: Int) -> [UInt8] { count < 128 ? [UInt8(count)] : [0x82, UInt8(count >> 8), UInt8(count & 0xFF)] }
        let modulus: [UInt8] = [0x02] + length(even.count + 1) + [0x00] + even
        let exponent: [UInt8] = [0x02, 0x03, 0x01, 0x00, 0x01]
        let rsaKey: [UInt8] = [0x30] + length(modulus.count + exponent.count) + modulus + exponent
        let bitString: [UInt8] = [0x03] + length(rsaKey.count + 1) + [0x00] + rsaKey
        let algorithm: [UInt8] = [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00]
        let spki: [UInt8] = [0x30] + length(algorithm.count + bitString.count) + algorithm + bitString
        #expect(throws: CryptoError.self) { try PublicKey.rsa(n: even, e: [0x01, 0x00, 0x01]) }
        #expect(throws: CryptoError.self) { try PublicKey(der: spki).validate() }
        #expect(throws: CryptoError.self) { try PublicKey(pem: PEM.encode(spki, label: "PUBLIC KEY")).validate() }
        try key.validate()
    }

    /// SPIRE hashes the uncompressed point; a key received compressed must re-encode.
    @Test func compressedPointsAreReencodedUncompressed() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let (x, y) = try #require(key.ecPoint)
        let last = try #require(y.last)
        let algorithm: [UInt8] = [0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
                                  0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        let point: [UInt8] = [last & 1 == 0 ? 0x02 : 0x03] + x
        let bitString: [UInt8] = [0x03, UInt8(point.count + 1), 0x00] + point
        let compressed: [UInt8] = [0x30, UInt8(algorithm.count + bitString.count)] + algorithm + bitString
        let parsed = try PublicKey(der: compressed)
        #expect(parsed.der == key.der)
        #expect(parsed.subjectPublicKeyBits == key.subjectPublicKeyBits)
    }
}
