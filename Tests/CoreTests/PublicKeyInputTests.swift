import Core
import Crypto
import Foundation
import TestSupport
import Testing

/// Public keys as servers and operators send them: PEM, DER, base64 DER, JWK.
@Suite struct PublicKeyInputTests {
    @Test func acceptsEveryForm() throws {
        let key = try PrivateKey.generate(.ecP384).publicKey
        #expect(try PublicKeyInput.parse(key.pem) == key)
        #expect(try PublicKeyInput.parse("\n  " + key.pem + "\n\n") == key)
        #expect(try PublicKeyInput.parse(key.der) == key)
        #expect(try PublicKeyInput.parse(PEM.base64(key.der)) == key)
        #expect(try PublicKeyInput.parse(JWK(publicKey: key, kid: "x", alg: "ES384").json) == key)
        #expect(try PublicKeyInput.keyType(of: key) == .ecP384)
    }

    @Test func refusesWithClearErrors() throws {
        let privatePEM = try PrivateKey.generate(.ecP256).pkcs8PEM()
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "empty"),
            ("spaces", Array("   ".utf8), "empty"),
            ("private key", Array(privatePEM.utf8), "private key"),
            ("certificate", Array("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8), "PUBLIC KEY"),
            ("broken pem", Array("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".utf8), "invalid"),
            ("broken der", [0x30, 0x03, 0x01, 0x02, 0x03], "invalid"),
            ("garbage", Array("hello".utf8), "must be"),
        ]
        for (label, input, fragment) in cases {
            do {
                _ = try PublicKeyInput.parse(input)
                Issue.record("\(label) was accepted")
            } catch CoordinationError.invalid(let message) {
                #expect(message.contains(fragment), "\(label): \(message)")
            }
        }
    }

    /// Found by the public-key-input fuzzer: an RSA key with a broken (here: even) modulus
    /// parsed as PEM or DER although its own JWK was refused.
    @Test func pemAndDERGetTheSameKeyCheckAsJWK() throws {
        let key = try PrivateKey.generate(.rsa(bits: 2048)).publicKey
        let n = try #require(key.rsaComponents).n
        var even = n
        even[even.count - 1] &= 0xFE
        // The SPKI of `key` differs from that of the even modulus only in the modulus's last byte.
        var spki = key.der
        let offset = spki.count - 5 - 1
        #expect(spki[offset] == n[n.count - 1])
        spki[offset] = even[even.count - 1]
        for input in [spki, Array(PEM.encode(spki, label: "PUBLIC KEY").utf8), Array(PEM.base64(spki).utf8)] {
            #expect(throws: CoordinationError.self) { try PublicKeyInput.parse(input) }
        }
        #expect(throws: CoordinationError.self) { try PublicKeyInput.parse(JWK(material: .rsa(n: even, e: [1, 0, 1])).json) }
        #expect(try PublicKeyInput.parse(key.der) == key)
    }

    @Test func onlySPIREKeyTypesArePublishable() throws {
        #expect(throws: CoordinationError.self) { try PublicKeyInput.keyType(of: try PrivateKey.generate(.ecP521).publicKey) }
        #expect(throws: CoordinationError.self) {
            try PublicKeyInput.keyType(of: try PrivateKey.generate(.rsa(bits: 3072)).publicKey)
        }
        #expect(try PublicKeyInput.keyType(of: try PrivateKey.generate(.rsa(bits: 2048)).publicKey) == .rsa2048)
    }
}
