import Crypto
import Foundation
import Testing
@testable import Backends

/// SigV4 must match botocore's signer byte for byte: any difference is a request AWS rejects.
@Suite struct AWSSigV4SignerTests {
    struct Case {
        var method: String
        var url: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var credentials: AWSCredentials
        var region: String
        var service: String
        var date: Date
    }

    static let plain = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let temporary = AWSCredentials(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "c2VjcmV0/with+slash=",
                                          sessionToken: "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJGMEQCIA==")

    static let cases: [Case] = [
        Case(method: "POST", url: "https://kms.us-east-1.amazonaws.com/",
             headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Sign")],
             body: Array(#"{"KeyId":"alias/x","Message":"AAEC"}"#.utf8), credentials: plain, region: "us-east-1",
             service: "kms", date: Date(timeIntervalSince1970: 1_700_000_000)),
        Case(method: "POST", url: "http://127.0.0.1:4566/", headers: [("X-Amz-Target", "TrentService.ListKeys")],
             body: Array("{}".utf8), credentials: temporary, region: "eu-west-3", service: "kms",
             date: Date(timeIntervalSince1970: 1_799_999_999)),
        Case(method: "GET", url: "https://EXAMPLE.amazonaws.com:443/a%20b/c%2Fd/./e/../f//g/",
             headers: [], body: [], credentials: plain, region: "us-west-2", service: "execute-api",
             date: Date(timeIntervalSince1970: 1_600_000_000)),
        Case(method: "GET", url: "https://example.amazonaws.com/path?b=2&a=1&a=0&c=%2F%3D%26&empty=&flag&q=a+b&%E2%9C%93=v",
             headers: [], body: [], credentials: temporary, region: "ap-southeast-2", service: "sts",
             date: Date(timeIntervalSince1970: 1_650_000_123)),
        Case(method: "PUT", url: "http://localhost:8080/caf%C3%A9/%E2%9C%93/~user/-_.",
             headers: [("X-Amz-Meta-Tags", "  a   b\tc  "), ("X-Amz-Meta-Tags", "second"), ("x-amz-meta-Name", "café ✓"),
                       ("User-Agent", "keycoord/1.0"), ("Content-Type", "text/plain; charset=utf-8")],
             body: Array("héllo wörld".utf8), credentials: plain, region: "us-east-1", service: "s3-object-lambda",
             date: Date(timeIntervalSince1970: 1_234_567_890)),
        Case(method: "DELETE", url: "https://[::1]:9443/", headers: [("Expect", "100-continue")], body: [],
             credentials: temporary, region: "us-gov-west-1", service: "kms", date: Date(timeIntervalSince1970: 0)),
        Case(method: "POST", url: "https://kms.cn-north-1.amazonaws.com.cn", headers: [("X-Amz-Date", "19990101T000000Z"),
             ("Authorization", "stale")], body: [0, 1, 2, 255], credentials: plain, region: "cn-north-1", service: "kms",
             date: Date(timeIntervalSince1970: 1_718_000_000.75)),
    ]

    @Test func signaturesMatchBotocore() throws {
        struct Reference: Decodable {
            var authorization: String
            var canonical_request: String
            var headers: [[String]]
        }
        var input: [[String: Any]] = []
        var mine: [SigV4Signer.Signature] = []
        for c in Self.cases {
            let url = try #require(URL(string: c.url), "test URL \(c.url)")
            let request = HTTPClientRequest(method: c.method, url: url, headers: c.headers, body: c.body)
            let signature = SigV4Signer(region: c.region, service: c.service).sign(request, credentials: c.credentials, date: c.date)
            mine.append(signature)
            input.append([
                "method": c.method, "url": c.url, "headers": c.headers.map { [$0.name, $0.value] },
                "body_b64": PEM.base64(c.body), "access_key": c.credentials.accessKeyID,
                "secret_key": c.credentials.secretAccessKey, "token": c.credentials.sessionToken as Any,
                "region": c.region, "service": c.service, "timestamp": signature.amzDate,
            ])
        }
        let output = try AWSTestSupport.runPython("aws_sigv4.py", input: JSONSerialization.data(withJSONObject: input))
        let references = try JSONDecoder().decode([Reference].self, from: output)
        #expect(references.count == Self.cases.count)
        for (index, (reference, signature)) in zip(references, mine).enumerated() {
            #expect(signature.canonicalRequest == reference.canonical_request, "case \(index) canonical request")
            #expect(signature.authorization == reference.authorization, "case \(index) \(Self.cases[index].url)")
            let botoToken = reference.headers.first { $0.first?.lowercased() == "x-amz-security-token" }?.last
            #expect(signature.request.header("X-Amz-Security-Token") == botoToken, "case \(index) token header")
            #expect(signature.request.header("X-Amz-Date") == signature.amzDate)
        }
    }

    @Test func knownAnswerFromAWSDocumentation() {
        // The IAM ListUsers GET example of the AWS SigV4 documentation ("Create a signed AWS API request").
        let request = HTTPClientRequest(
            method: "GET", url: URL(string: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08")!,
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
        let date = Date(timeIntervalSince1970: 1_440_938_160) // 20150830T123600Z
        let signature = SigV4Signer(region: "us-east-1", service: "iam").sign(request, credentials: Self.plain, date: date)
        #expect(signature.amzDate == "20150830T123600Z")
        #expect(signature.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date, "
            + "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    @Test func signingReplacesStaleSignatureHeaders() {
        let request = HTTPClientRequest(method: "POST", url: URL(string: "https://kms.us-east-1.amazonaws.com/")!,
                                        headers: [("Authorization", "old"), ("X-Amz-Date", "old"),
                                                  ("X-Amz-Security-Token", "old")])
        let signed = SigV4Signer(region: "us-east-1", service: "kms")
            .sign(request, credentials: Self.temporary, date: Date(timeIntervalSince1970: 1_700_000_000)).request
        #expect(signed.headers.filter { $0.name.lowercased() == "authorization" }.count == 1)
        #expect(signed.headers.filter { $0.name.lowercased() == "x-amz-date" }.map(\.value) == ["20231114T221320Z"])
        #expect(signed.header("X-Amz-Security-Token") == Self.temporary.sessionToken)
        #expect(!"\(Self.temporary)".contains(Self.temporary.secretAccessKey))
        #expect(!"\(Self.temporary)".contains(Self.temporary.sessionToken ?? "?"))
    }
}
