import Crypto
import Foundation
import Testing
import TestSupport

/// Key generation, PEM round trips and signatures for every SPIRE key type, with PyCA
/// `cryptography` as the independent verifier in both directions.
@Suite struct PrivateKeyTests {
    static let algorithms: [(KeyAlgorithm, String, HashAlgorithm, String)] = [
        (.ecP256, "ec-p256", .sha256, "sha256"),
        (.ecP384, "ec-p384", .sha384, "sha384"),
        (.rsa(bits: 2048), "rsa-2048", .sha256, "sha256"),
        (.rsa(bits: 4096), "rsa-4096", .sha256, "sha256"),
    ]

    @Test(arguments: 0..<4)
    func generateRoundTripAndSign(index: Int) throws {
        let (algorithm, name, hash, hashName) = Self.algorithms[index]
        let key = try PrivateKey.generate(algorithm)
        #expect(key.algorithm == algorithm)
        #expect(key.publicKey.algorithm == algorithm)

        // PKCS #8 PEM round trip keeps the key, and Python reads the same key from it.
        let pem = try key.pkcs8PEM()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let reread = try PrivateKey(pem: pem)
        #expect(reread.publicKey == key.publicKey)
        let python = try CoreVectors.run(["op": "parse_private", "pem": pem])
        #expect(python["spki"] as? String == PEM.base64(key.publicKey.der))

        // Public key PEM and DER round trips.
        #expect(try PublicKey(pem: key.publicKey.pem) == key.publicKey)
        #expect(try PublicKey(der: key.publicKey.der).der == key.publicKey.der)

        // Our signature verifies here and in Python; a changed digest does not verify.
        let message = Array("keycoord \(name)".utf8)
        let digest = Digest.hash(hash, message)
        let signature = try key.sign(digest: digest, hash: hash)
        #expect(key.publicKey.verify(signature: signature, digest: digest, hash: hash))
        var wrong = digest
        wrong[0] ^= 1
        #expect(!key.publicKey.verify(signature: signature, digest: wrong, hash: hash))
        let verified = try CoreVectors.run(["op": "verify", "key": PEM.base64(key.publicKey.der), "hash": hashName,
                                            "message": PEM.base64(message), "signature": PEM.base64(signature)])
        #expect(verified["valid"] as? Bool == true)
    }

    @Test(arguments: [0, 1, 2])
    func verifiesPythonSignatures(index: Int) throws {
        let (algorithm, name, hash, hashName) = Self.algorithms[index]
        let message = Array("signed by PyCA".utf8)
        let answer = try CoreVectors.run(["op": "sign", "type": name, "hash": hashName, "message": PEM.base64(message)])
        let spkiText = try #require(answer["spki"] as? String)
        let signatureText = try #require(answer["signature"] as? String)
        let spki = try #require(PEM.decodeBase64(spkiText))
        let signature = try #require(PEM.decodeBase64(signatureText))
        let publicKey = try PublicKey(der: spki)
        #expect(publicKey.algorithm == algorithm)
        #expect(publicKey.verify(signature: signature, digest: Digest.hash(hash, message), hash: hash))
        // The PKCS #8 PEM Python wrote parses to the same public key.
        let pem = try #require(answer["pem"] as? String)
        let privateKey = try PrivateKey(pem: pem)
        #expect(privateKey.publicKey == publicKey)
    }

    /// RSA-PSS with MGF1 over the same hash, each salt length Go's conventions name, checked
    /// by `cryptography` with the exact salt length; PSS is refused for EC keys and for a
    /// salt that does not fit the key.
    @Test func signsRSAPSS() throws {
        let key = try PrivateKey.generate(.rsa(bits: 2048))
        let message = Array("keycoord pss".utf8)
        let digest = Digest.hash(.sha384, message)
        // RFC 8017 §9.1.1: the largest salt is the key's bytes less the hash and two.
        let cases: [(SignatureScheme.SaltLength, Any)] = [(.digestLength, "digest"), (.bytes(20), 20), (.maximum, 256 - 48 - 2)]
        for (salt, expected) in cases {
            let signature = try key.sign(digest: digest, scheme: SignatureScheme(hash: .sha384, pss: salt))
            let verified = try CoreVectors.run(["op": "verify", "key": PEM.base64(key.publicKey.der), "hash": "sha384",
                                                "message": PEM.base64(message), "signature": PEM.base64(signature),
                                                "pss_salt": expected])
            #expect(verified["valid"] as? Bool == true, "salt \(salt)")
        }
        #expect(throws: CryptoError.self) { try key.sign(digest: digest, scheme: SignatureScheme(hash: .sha384, pss: .bytes(300))) }
        let ecKey = try PrivateKey.generate(.ecP256)
        #expect(throws: CryptoError.self) {
            try ecKey.sign(digest: Digest.sha256(message), scheme: SignatureScheme(hash: .sha256, pss: .digestLength))
        }
        #expect(SignatureScheme.SaltLength(goValue: 0) == .maximum)
        #expect(SignatureScheme.SaltLength(goValue: -1) == .digestLength)
        #expect(SignatureScheme.SaltLength(goValue: 32) == .bytes(32))
        #expect(SignatureScheme.SaltLength(goValue: -2) == nil)
    }

    @Test func refusesBadInput() throws {
        #expect(throws: CryptoError.self) { try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        #expect(throws: CryptoError.self) { try PrivateKey.generate(.rsa(bits: 1024)) }
        let key = try PrivateKey.generate(.ecP256)
        #expect(throws: CryptoError.self) { try key.sign(digest: [1, 2, 3], hash: .sha256) }
    }

    @Test func verifyRejectsGarbageSignatures() throws {
        let key = try PrivateKey.generate(.ecP256)
        let digest = Digest.sha256(Array("x".utf8))
        #expect(!key.publicKey.verify(signature: [], digest: digest, hash: .sha256))
        #expect(!key.publicKey.verify(signature: [0x30, 0x00], digest: digest, hash: .sha256))
        #expect(!key.publicKey.verify(signature: Array(repeating: 7, count: 64), digest: digest, hash: .sha256))
    }
}
