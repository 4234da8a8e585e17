import Core
import Crypto
import Foundation
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

    @Test func onlySPIREKeyTypesArePublishable() throws {
        #expect(throws: CoordinationError.self) { try PublicKeyInput.keyType(of: try PrivateKey.generate(.ecP521).publicKey) }
        #expect(throws: CoordinationError.self) {
            try PublicKeyInput.keyType(of: try PrivateKey.generate(.rsa(bits: 3072)).publicKey)
        }
        #expect(try PublicKeyInput.keyType(of: try PrivateKey.generate(.rsa(bits: 2048)).publicKey) == .rsa2048)
    }
}
