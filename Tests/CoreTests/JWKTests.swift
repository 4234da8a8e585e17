import Core
import Crypto
import Foundation
import TestSupport
import Testing

/// JWK encoding (RFC 7517/7518 conventions, fixed member order) and strict parsing.
@Suite struct JWKTests {
    @Test func encodesECWithFixedMemberOrder() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let (x, y) = try #require(key.ecPoint)
        let json = JWK(publicKey: key, kid: "abc", alg: "ES256").json
        #expect(json == "{\"kty\":\"EC\",\"use\":\"sig\",\"kid\":\"abc\",\"alg\":\"ES256\",\"crv\":\"P-256\","
                + "\"x\":\"\(Base64URL.encode(x))\",\"y\":\"\(Base64URL.encode(y))\"}")
    }

    @Test func encodesRSAWithMinimalOctets() throws {
        let key = try PrivateKey.generate(.rsa(bits: 2048)).publicKey
        let jwk = JWK(publicKey: key, kid: "k", alg: "RS256")
        let (n, e) = try #require(jwk.rsaComponents)
        #expect(n.count == 256 && n.first != 0)
        #expect(e == [1, 0, 1])
        #expect(jwk.json.hasPrefix("{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"k\",\"alg\":\"RS256\",\"n\":\""))
        #expect(jwk.json.hasSuffix(",\"e\":\"AQAB\"}"))
    }

    @Test(arguments: [KeyAlgorithm.ecP256, .ecP384, .rsa(bits: 2048)])
    func parsesWhatItEncodes(algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm).publicKey
        let jwk = JWK(publicKey: key, kid: "kid-1", alg: KeyType(algorithm)?.alg)
        let parsed = try JWK.parse(Array(jwk.json.utf8))
        #expect(parsed == jwk)
        #expect(try parsed.publicKey() == key)
    }

    @Test func ignoresUnknownPublicMembers() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let (x, y) = try #require(key.ecPoint)
        let json = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(Base64URL.encode(x))\",\"y\":\"\(Base64URL.encode(y))\",\"x5t\":\"zz\"}"
        #expect(try JWK.parse(Array(json.utf8)).publicKey() == key)
    }

    @Test func refusesBadJWKs() throws {
        let key = try PrivateKey.generate(.ecP256).publicKey
        let (x, y) = try #require(key.ecPoint)
        let bx = Base64URL.encode(x), by = Base64URL.encode(y)
        var offCurve = y
        offCurve[31] ^= 1
        let rsa = try PrivateKey.generate(.rsa(bits: 2048)).publicKey
        let n = try #require(rsa.rsaComponents).n
        let bad: [(String, String)] = [
            ("not json", "{"),
            ("array", "[]"),
            ("private d", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(bx)\",\"y\":\"\(by)\",\"d\":\"AA\"}"),
            ("symmetric", "{\"kty\":\"oct\",\"k\":\"AAAA\"}"),
            ("unknown kty", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\(bx)\"}"),
            ("missing kty", "{\"crv\":\"P-256\",\"x\":\"\(bx)\",\"y\":\"\(by)\"}"),
            ("kty not string", "{\"kty\":1,\"crv\":\"P-256\",\"x\":\"\(bx)\",\"y\":\"\(by)\"}"),
            ("unknown curve", "{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"\(bx)\",\"y\":\"\(by)\"}"),
            ("short x", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(Base64URL.encode(x.dropFirst()))\",\"y\":\"\(by)\"}"),
            ("missing y", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(bx)\"}"),
            ("padded", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(bx)=\",\"y\":\"\(by)\"}"),
            ("standard alphabet", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"+/\(bx.dropFirst(2))\",\"y\":\"\(by)\"}"),
            ("off curve", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(bx)\",\"y\":\"\(Base64URL.encode(offCurve))\"}"),
            ("alg mismatch", "{\"kty\":\"EC\",\"alg\":\"RS256\",\"crv\":\"P-256\",\"x\":\"\(bx)\",\"y\":\"\(by)\"}"),
            ("use enc", "{\"kty\":\"EC\",\"use\":\"enc\",\"crv\":\"P-256\",\"x\":\"\(bx)\",\"y\":\"\(by)\"}"),
            ("rsa leading zero", "{\"kty\":\"RSA\",\"n\":\"\(Base64URL.encode([0] + n))\",\"e\":\"AQAB\"}"),
            ("rsa empty e", "{\"kty\":\"RSA\",\"n\":\"\(Base64URL.encode(n))\",\"e\":\"\"}"),
            ("rsa private", "{\"kty\":\"RSA\",\"n\":\"\(Base64URL.encode(n))\",\"e\":\"AQAB\",\"p\":\"AQAB\"}"),
        ]
        for (label, json) in bad {
            #expect(throws: CoordinationError.self, "\(label)") { try JWK.parse(Array(json.utf8)).publicKey() }
        }
    }
}
