import Core
import Crypto
import Foundation
import Testing
import TestSupport

/// Kids and JWK members for all four SPIRE key types, and EC keys whose coordinates start
/// with a zero byte, checked against PyCA `cryptography` (SPIRE kid = X.509 SubjectKeyIdentifier)
/// and `joserfc` (RFC 7638 thumbprint, JWK export).
@Suite struct KidFormatTests {
    static func keys() throws -> [PublicKey] {
        var keys = try [KeyAlgorithm.ecP256, .ecP384, .rsa(bits: 2048), .rsa(bits: 4096)]
            .map { try PrivateKey.generate($0).publicKey }
        for (type, zero) in [("ec-p256", "x"), ("ec-p256", "y"), ("ec-p384", "x"), ("ec-p384", "y")] {
            let answer = try CoreVectors.run(["op": "keygen", "type": type, "zero": zero, "count": 1])
            let encoded = try #require(answer["keys"] as? [String])
            for text in encoded {
                keys.append(try PublicKey(der: try #require(PEM.decodeBase64(text))))
            }
        }
        return keys
    }

    @Test func kidsAndJWKsMatchIndependentImplementations() throws {
        let keys = try Self.keys()
        let answer = try CoreVectors.run(["op": "kids", "keys": keys.map { PEM.base64($0.der) }])
        let expected = try #require(answer["keys"] as? [[String: Any]])
        try #require(expected.count == keys.count)
        for (key, vector) in zip(keys, expected) {
            let spire = KidFormat.spire.kid(for: key)
            #expect(spire == vector["spire"] as? String, "\(key.algorithm)")
            #expect(spire.count == 40 && spire == spire.lowercased())
            #expect(KidFormat.spireFIPS.kid(for: key) == vector["fips"] as? String)
            #expect(KidFormat.rfc7638.kid(for: key) == vector["rfc7638"] as? String)

            let jwk = try #require(vector["jwk"] as? [String: String])
            let ours = JWK(publicKey: key, kid: nil, alg: nil)
            switch ours.material {
            case .ec(let crv, let x, let y):
                #expect(crv == jwk["crv"])
                #expect(Base64URL.encode(x) == jwk["x"] && Base64URL.encode(y) == jwk["y"])
                #expect(x.count == key.algorithm.coordinateSize && y.count == key.algorithm.coordinateSize)
            case .rsa(let n, let e):
                #expect(Base64URL.encode(n) == jwk["n"] && Base64URL.encode(e) == jwk["e"])
                #expect(Base64URL.encode(e) == "AQAB")
            }
        }
        // The zero-led keys really have a zero first coordinate byte, kept in the JWK.
        for key in keys.suffix(4) {
            guard case .ec(_, let x, let y) = key.parameters else { continue }
            #expect(x.first == 0 || y.first == 0)
        }
    }

    @Test func kidsAreStableAcrossEncodings() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let fromPEM = try PublicKeyInput.parse(key.pem)
        let fromJWK = try PublicKeyInput.parse(JWK(publicKey: key, kid: nil, alg: nil).json)
        for format in KidFormat.allCases {
            #expect(format.kid(for: fromPEM) == format.kid(for: key))
            #expect(format.kid(for: fromJWK) == format.kid(for: key))
        }
        #expect(KidFormat(rawValue: "spire-fips") == .spireFIPS)
        #expect(KidFormat.spireFIPS.kid(for: key).count == 40)
        #expect(KidFormat.rfc7638.kid(for: key).count == 43)
    }
}
