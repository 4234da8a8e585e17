import Core
import Crypto
import Foundation
import Testing
@testable import Backends

/// The backend behind a fault-injecting proxy (Tests/python/aws_fault_proxy.py) in front
/// of moto: throttling, server errors, slow and lost answers.
@Suite struct AWSKMSFaultTests {
    struct Proxy {
        let helper: AWSTestHelperProcess
        let url: String

        init(plan: [String: [String]]) throws {
            let planJSON = String(decoding: try JSONSerialization.data(withJSONObject: plan), as: UTF8.self)
            helper = try AWSTestHelperProcess("aws_fault_proxy.py", arguments: [try AWSTestSupport.motoURL(), planJSON])
            guard let port = helper.readyPort else { throw AWSTestSupport.Failure(description: "proxy: \(helper.firstLine)") }
            url = "http://127.0.0.1:\(port)"
        }

        /// Requests the proxy saw, by operation.
        func stats() async throws -> [String: Int] {
            let response = try await HTTPClient().send(HTTPClientRequest(method: "GET", url: URL(string: "\(url)/_stats")!))
            return try JSONDecoder().decode([String: Int].self, from: Data(response.body))
        }
    }

    func backend(_ proxy: Proxy, timeout: TimeInterval = 1.5, deadline: TimeInterval = 20) throws -> AWSKMSBackend {
        try AWSTestSupport.motoBackend(endpoint: proxy.url) { config in
            config.requestTimeout = timeout
            config.callDeadline = deadline
            config.maxAttempts = 8
            config.retryBaseDelay = 0.05
            config.retryMaxDelay = 0.5
        }
    }

    @Test func operationsSucceedThroughThrottlingServerErrorsAndDelays() async throws {
        let proxy = try Proxy(plan: [
            "CreateKey": ["throttle", "500", "429"],
            "GetPublicKey": ["503", "delay:3"],
            "Sign": ["throttle", "delay:3", "throttle"],
            "TagResource": ["500"],
            "ListKeys": ["throttle"],
            "ListResourceTags": ["500"],
            "DescribeKey": ["throttle"],
            "ScheduleKeyDeletion": ["500"],
        ])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy)
        let trustDomain = AWSTestSupport.uniqueTrustDomain("faults")
        let start = Date()
        let key = try await backend.create(keyType: .ecP256, trustDomain: trustDomain)
        let signature = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Array("a.b".utf8))
        let publicKey = try PublicKey(der: key.publicKey)
        #expect(publicKey.verify(signature: try ECDSASignature.der(fromRaw: signature), digest: Digest.sha256(Array("a.b".utf8)),
                                 hash: .sha256))
        try await backend.markPublished(ref: key.ref, kid: "k")
        #expect(try await backend.list(trustDomain: trustDomain).map(\.mark) == [.published])
        try await backend.destroy(ref: key.ref)
        #expect(Date().timeIntervalSince(start) < 60) // loose: each call must stay inside its 20 s deadline
        let stats = try await proxy.stats()
        #expect(stats["CreateKey"] == 4)
        #expect(stats["Sign"] == 4)
        #expect((stats["GetPublicKey"] ?? 0) >= 3)
    }

    @Test func createKeyRetriedAfterALostAnswerLeavesOnlyPendingKeysTheReconcilerSees() async throws {
        // moto creates the key but its answer arrives after the client's timeout; the retry
        // creates a second key. Both carry the trust-domain and pending tags from the very
        // CreateKey call, so list() — what the reconciler reads — shows the orphan.
        let proxy = try Proxy(plan: ["CreateKey": ["lost:3"]])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy, timeout: 1)
        let trustDomain = AWSTestSupport.uniqueTrustDomain("lost")
        let key = try await backend.create(keyType: .ecP256, trustDomain: trustDomain)
        #expect(try await proxy.stats()["CreateKey"] == 2)
        let listed = try await backend.list(trustDomain: trustDomain)
        #expect(listed.count == 2)
        #expect(listed.allSatisfy { $0.mark == .pending && $0.keyType == .ecP256 })
        #expect(listed.contains { $0.ref == key.ref })
        try await backend.markPublished(ref: key.ref, kid: "kept")
        let orphans = try await backend.list(trustDomain: trustDomain).filter { $0.mark == .pending }
        #expect(orphans.count == 1 && orphans.first?.ref != key.ref)
        for info in try await backend.list(trustDomain: trustDomain) { try await backend.destroy(ref: info.ref) }
    }

    @Test func persistentFailuresStopAtTheDeadline() async throws {
        let proxy = try Proxy(plan: ["Sign": Array(repeating: "500", count: 200)])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy, timeout: 1, deadline: 2)
        let start = Date()
        await #expect { try await backend.sign(ref: "arn:aws:kms:us-east-1:123456789012:key/x", keyType: .ecP256,
                                               digest: [1]) } throws: { error in
            guard case CoordinationError.backendFailure(let message) = error else { return false }
            return message.contains("gave up") && message.contains("KMSInternalException")
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.5 && elapsed < 10)
        #expect((try await proxy.stats()["Sign"] ?? 0) >= 2)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let proxy = try Proxy(plan: ["Sign": ["denied"], "CreateKey": ["limit"]])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy)
        await #expect { try await backend.sign(ref: "arn:aws:kms:us-east-1:123456789012:key/x", keyType: .ecP256,
                                               digest: [1]) } throws: { error in
            guard case CoordinationError.backendFailure(let message) = error else { return false }
            return message.contains("denied kms:Sign") && message.contains("docs/aws.md")
        }
        await #expect { try await backend.create(keyType: .ecP256, trustDomain: "limit.example.org") } throws: { error in
            guard case CoordinationError.backendFailure(let message) = error else { return false }
            return message.contains("quota")
        }
        let stats = try await proxy.stats()
        #expect(stats["Sign"] == 1)
        #expect(stats["CreateKey"] == 1)
    }
}
