import Core
import Crypto
import Foundation
import Testing
import TestSupport

/// The JWKS bytes, what they include, the guards, and the OIDC discovery document.
@Suite struct JWKSDocumentTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func rendersExactBytesAndFiltersStates() throws {
        let keys = try [KeyAlgorithm.ecP256, .ecP384, .rsa(bits: 2048), .ecP256, .ecP256, .ecP256]
            .map { try PrivateKey.generate($0).publicKey }
        let later = now.addingTimeInterval(3600)
        let records = [
            try Fixtures.record(keys[0], state: .active, notAfter: later),
            try Fixtures.record(keys[1], state: .published, notAfter: later),
            try Fixtures.record(keys[2], state: .retired, notAfter: now.addingTimeInterval(-60), tainted: true), // in grace
            try Fixtures.record(keys[3], state: .revoked, notAfter: later),
            try Fixtures.record(keys[4], state: .retired, notAfter: now.addingTimeInterval(-301)), // past grace
            try Fixtures.record(keys[5], state: .active, notAfter: later, tainted: true),
        ]
        let document = JWKSDocument.render(records: records, now: now, grace: .seconds(300))
        let served = [records[0], records[1], records[2], records[5]]
        let jwks = try served.map { JWK(publicKey: try PublicKey(der: $0.publicKey), kid: $0.kid, alg: $0.keyType.alg).json }
        let expected = "{\"keys\":[" + jwks.joined(separator: ",") + "]}"
        #expect(String(decoding: document.body, as: UTF8.self) == expected)
        #expect(document.kids == served.map(\.kid))
        #expect(document.keyCount == [.ec: 3, .rsa: 1])
        #expect(document.unreadable.isEmpty)
        // Deterministic: rendering again gives the same bytes.
        #expect(JWKSDocument.render(records: records, now: now, grace: .seconds(300)) == document)

        // joserfc imports it and sees the same kids, algs and thumbprints.
        let answer = try CoreVectors.run(["op": "jwks", "jwks": String(decoding: document.body, as: UTF8.self)])
        let imported = try #require(answer["keys"] as? [[String: Any]])
        #expect(imported.compactMap { $0["kid"] as? String } == document.kids)
        #expect(imported.compactMap { $0["alg"] as? String } == ["ES256", "ES384", "RS256", "ES256"])
        #expect(imported.allSatisfy { $0["use"] as? String == "sig" })
        let thumbprints = try served.map { KidFormat.rfc7638.kid(for: try PublicKey(der: $0.publicKey)) }
        #expect(imported.compactMap { $0["thumbprint"] as? String } == thumbprints)
    }

    @Test func emptyAndUnreadableRecords() throws {
        #expect(String(decoding: JWKSDocument.render(records: [], now: now, grace: .zero).body, as: UTF8.self) == "{\"keys\":[]}")
        var broken = try Fixtures.record(try PrivateKey.generate(.ecP256).publicKey, notAfter: now.addingTimeInterval(60))
        broken.publicKey = [0x30, 0x00]
        let document = JWKSDocument.render(records: [broken], now: now, grace: .zero)
        #expect(document.kids.isEmpty && document.unreadable == [broken.kid])
    }

    @Test func guardsRefuseGrowthPastLimits() throws {
        let later = now.addingTimeInterval(3600)
        let records = try (0..<4).map { _ in try Fixtures.record(try PrivateKey.generate(.ecP256).publicKey, notAfter: later) }
        let limits = JWKSLimits(maxKeysPerFamily: 3, maxBytes: 51_200)
        try limits.check(before: Array(records.prefix(2)), after: Array(records.prefix(3)), now: now, grace: .zero)
        #expect(throws: CoordinationError.self) {
            try limits.check(before: Array(records.prefix(3)), after: records, now: now, grace: .zero)
        }
        // Already over a lowered limit: a taint (no growth) is still allowed.
        var tainted = records
        tainted[0].tainted = true
        try limits.check(before: records, after: tainted, now: now, grace: .zero)

        let one = JWKSDocument.render(records: Array(records.prefix(1)), now: now, grace: .zero).body.count
        let tight = JWKSLimits(maxKeysPerFamily: 100, maxBytes: one + 10)
        try tight.check(before: [], after: Array(records.prefix(1)), now: now, grace: .zero)
        do {
            try tight.check(before: Array(records.prefix(1)), after: Array(records.prefix(2)), now: now, grace: .zero)
            Issue.record("size limit not enforced")
        } catch CoordinationError.jwksLimit(let message) {
            #expect(message.contains("bytes"))
        }
        // RSA and EC are counted separately, as AWS IAM does.
        let rsa = try Fixtures.record(try PrivateKey.generate(.rsa(bits: 2048)).publicKey, notAfter: later)
        try limits.check(before: Array(records.prefix(3)), after: Array(records.prefix(3)) + [rsa], now: now, grace: .zero)
    }

    @Test func oidcDiscoveryDocument() {
        let body = OIDCDiscoveryDocument.render(issuer: "https://oidc.example.org", jwksURI: "https://oidc.example.org/keys",
                                                keyTypes: [.ecP384, .rsa4096, .ecP256, .rsa2048])
        #expect(String(decoding: body, as: UTF8.self) == "{\"issuer\":\"https://oidc.example.org\","
                + "\"jwks_uri\":\"https://oidc.example.org/keys\",\"response_types_supported\":[\"id_token\"],"
                + "\"subject_types_supported\":[\"public\"],\"id_token_signing_alg_values_supported\":[\"ES256\",\"ES384\",\"RS256\"]}")
        let empty = OIDCDiscoveryDocument.render(issuer: "https://a\"b", jwksURI: "u", keyTypes: [])
        let object = try? JSONSerialization.jsonObject(with: Data(empty)) as? [String: Any]
        #expect(object?["issuer"] as? String == "https://a\"b")
        #expect(object?["id_token_signing_alg_values_supported"] as? [String] == ["ES256"])
    }
}
