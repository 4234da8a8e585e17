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

        init(plan: [String: [String]]) async throws {
            let planJSON = String(decoding: try JSONSerialization.data(withJSONObject: plan), as: UTF8.self)
            helper = try await AWSTestHelperProcess.start("aws_fault_proxy.py", arguments: [try AWSTestSupport.motoURL(), planJSON])
            guard let port = helper.readyPort else { throw AWSTestSupport.Failure(description: "proxy: \(helper.firstLine)") }
            url = "http://127.0.0.1:\(port)"
        }

        /// Requests the proxy saw, by operation.
        func stats() async throws -> [String: Int] {
            let response = try await HTTPClient().send(HTTPClientRequest(method: "GET", url: URL(string: "\(url)/_stats")!))
            return try JSONDecoder().decode([String: Int].self, from: Data(response.body))
        }
    }

    func backend(_ proxy: Proxy, timeout: TimeInterval = 2.5, deadline: TimeInterval = 30) throws -> AWSKMSBackend {
        try AWSTestSupport.motoBackend(endpoint: proxy.url) { config in
            config.requestTimeout = timeout
            config.callDeadline = deadline
            config.maxAttempts = 8
            config.retryBaseDelay = 0.05
            config.retryMaxDelay = 0.5
        }
    }

    @Test func operationsSucceedThroughThrottlingServerErrorsAndDelays() async throws {
        let proxy = try await Proxy(plan: [
            "CreateKey": ["throttle", "500", "429"],
            "GetPublicKey": ["503", "delay:5"],
            "Sign": ["throttle", "delay:5", "throttle"],
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
        let signature = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256(Array("a.b".utf8)))
        let publicKey = try PublicKey(der: key.publicKey)
        #expect(publicKey.verify(signature: try ECDSASignature.der(fromRaw: signature), digest: Digest.sha256(Array("a.b".utf8)),
                                 hash: .sha256))
        try await backend.markPublished(ref: key.ref, kid: "k")
        // On a loaded machine a CreateKey answer can come too late and the retry mint a second
        // key: that one stays pending, for the reconciler (see the lost-answer test).
        let listed = try await backend.list(trustDomain: trustDomain)
        #expect(listed.first { $0.ref == key.ref }?.mark == .published)
        #expect(listed.filter { $0.ref != key.ref }.allSatisfy { $0.mark == .pending })
        for info in listed { try await backend.destroy(ref: info.ref) }
        #expect(Date().timeIntervalSince(start) < 120) // loose: each call must stay inside its 30 s deadline
        let stats = try await proxy.stats()
        #expect((stats["CreateKey"] ?? 0) >= 4)
        #expect((stats["Sign"] ?? 0) >= 4)
        #expect((stats["GetPublicKey"] ?? 0) >= 3)
    }

    @Test func createKeyRetriedAfterALostAnswerLeavesOnlyPendingKeysTheReconcilerSees() async throws {
        // moto creates the key but its answer arrives after the client's timeout; the retry
        // creates a second key. Both carry the trust-domain and pending tags from the very
        // CreateKey call, so list() — what the reconciler reads — shows the orphan.
        let proxy = try await Proxy(plan: ["CreateKey": ["lost:6"]])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy)
        let trustDomain = AWSTestSupport.uniqueTrustDomain("lost")
        let key = try await backend.create(keyType: .ecP256, trustDomain: trustDomain)
        // Two calls at least; more if a loaded machine made a later answer late too.
        let calls = try await proxy.stats()["CreateKey"] ?? 0
        #expect(calls >= 2)
        let listed = try await backend.list(trustDomain: trustDomain)
        #expect(listed.count == calls)
        #expect(listed.allSatisfy { $0.mark == .pending && $0.keyType == .ecP256 })
        #expect(listed.contains { $0.ref == key.ref })
        try await backend.markPublished(ref: key.ref, kid: "kept")
        let orphans = try await backend.list(trustDomain: trustDomain).filter { $0.mark == .pending }
        #expect(orphans.count == calls - 1 && !orphans.contains { $0.ref == key.ref })
        for info in try await backend.list(trustDomain: trustDomain) { try await backend.destroy(ref: info.ref) }
    }

    @Test func persistentFailuresStopAtTheDeadline() async throws {
        let proxy = try await Proxy(plan: ["Sign": Array(repeating: "500", count: 200)])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy, timeout: 1.5, deadline: 3)
        let start = Date()
        await #expect { try await backend.sign(ref: "arn:aws:kms:us-east-1:123456789012:key/x", keyType: .ecP256,
                                               digest: Digest.sha256([1])) } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .unavailable && failure.message.contains("gave up")
        }
        // Loose bounds: the machine is loaded, but the call must end near its 3 s deadline.
        #expect(Date().timeIntervalSince(start) < 30)
        #expect((try await proxy.stats()["Sign"] ?? 0) >= 1)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let proxy = try await Proxy(plan: ["Sign": ["denied"], "CreateKey": ["limit"]])
        defer { proxy.helper.stop() }
        let backend = try backend(proxy)
        await #expect { try await backend.sign(ref: "arn:aws:kms:us-east-1:123456789012:key/x", keyType: .ecP256,
                                               digest: Digest.sha256([1])) } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .denied && failure.permission == "kms:Sign" && failure.message.contains("docs/aws.md")
        }
        await #expect { try await backend.create(keyType: .ecP256, trustDomain: "limit.example.org") } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .invalid && failure.message.contains("quota")
        }
        let stats = try await proxy.stats()
        #expect(stats["Sign"] == 1)
        #expect(stats["CreateKey"] == 1)
    }
}
