import Core
import Foundation
import Testing
import TestSupport
@testable import Backends

/// The backend conformance suite (Tests/TestSupport/BackendConformance.swift) against
/// every backend: disk, AWS KMS on moto (faults through the fault proxy), GCP Cloud KMS and
/// Azure Key Vault on their protocol fakes, and each cloud backend over its in-memory client.
@Suite struct BackendConformanceTests {
    static let withoutFaults = BackendConformance.Check.allCases.filter { !$0.needsFaults }

    @Test(arguments: withoutFaults)
    func disk(_ check: BackendConformance.Check) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("keys")
        try await BackendConformance { try DiskBackend(directory: path) }.run(check)
    }

    @Test(arguments: BackendConformance.Check.allCases)
    func awsOnMoto(_ check: BackendConformance.Check) async throws {
        let proxy = try await AWSFaultProxy.start()
        defer { proxy.stop() }
        try await BackendConformance(faults: proxy) {
            try AWSTestSupport.motoBackend(endpoint: proxy.url) { config in
                config.requestTimeout = 5
                config.retryBaseDelay = 0.02
                config.retryMaxDelay = 0.3
            }
        }.run(check)
    }

    @Test(arguments: BackendConformance.Check.allCases)
    func gcpOnItsFake(_ check: BackendConformance.Check) async throws {
        let fake = try await GCPTestSupport.fake()
        defer { fake.stop() }
        try await BackendConformance(faults: CloudFakeFaults(fake: fake, create: "createCryptoKey", sign: "asymmetricSign")) { try GCPTestSupport.backend(fake) }.run(check)
    }

    @Test(arguments: BackendConformance.Check.allCases)
    func azureOnItsFake(_ check: BackendConformance.Check) async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        try await BackendConformance(faults: CloudFakeFaults(fake: fake, create: "createKey", sign: "sign")) { try AzureTestSupport.backend(fake) }.run(check)
    }
}

/// The fault proxy in front of the shared moto, with faults queued at run time.
final class AWSFaultProxy: BackendConformance.Faults, @unchecked Sendable {
    let helper: AWSTestHelperProcess
    let url: String

    private init(helper: AWSTestHelperProcess, url: String) {
        self.helper = helper
        self.url = url
    }

    static func start() async throws -> AWSFaultProxy {
        let helper = try await AWSTestHelperProcess.start("aws_fault_proxy.py", arguments: [try AWSTestSupport.motoURL(), "{}"])
        guard let port = helper.readyPort else { throw AWSTestSupport.Failure(description: "proxy: \(helper.firstLine)") }
        return AWSFaultProxy(helper: helper, url: "http://127.0.0.1:\(port)")
    }

    func stop() { helper.stop() }

    private func plan(_ plan: [String: [String]]) async throws {
        let body = try JSONSerialization.data(withJSONObject: plan)
        let response = try await HTTPClient().send(HTTPClientRequest(method: "POST", url: URL(string: "\(url)/_plan")!,
                                                                     body: [UInt8](body)))
        guard response.isSuccess else { throw AWSTestSupport.Failure(description: "proxy plan: \(response.status)") }
    }

    private static func operation(_ operation: BackendConformance.Operation) -> String {
        switch operation {
        case .create: return "CreateKey"
        case .sign: return "Sign"
        }
    }

    // The backend's attempt timeout is 5 s: an answer held 8 s is lost to it.
    func loseNextAnswer(_ operation: BackendConformance.Operation) async throws {
        try await plan([Self.operation(operation): ["lost:8"]])
    }

    func throttle(_ operation: BackendConformance.Operation, times: Int) async throws {
        try await plan([Self.operation(operation): Array(repeating: "throttle", count: times)])
    }

    func deny(_ operation: BackendConformance.Operation) async throws {
        try await plan([Self.operation(operation): ["denied"]])
    }
}

/// The AWS backend's decisions over the in-memory KMS: the conformance checks without a
/// server, and a key whose DescribeKey has no CreationDate.
@Suite struct AWSKMSBackendLogicTests {
    func backend(_ kms: InMemoryAWSKMS) throws -> AWSKMSBackend {
        try AWSKMSBackend(config: AWSKMSConfig(region: "us-east-1", deletionWindowDays: 7), client: kms, region: "us-east-1",
                          endpoint: URL(string: "http://memory")!)
    }

    @Test(arguments: BackendConformanceTests.withoutFaults)
    func conformance(_ check: BackendConformance.Check) async throws {
        let kms = InMemoryAWSKMS()
        try await BackendConformance { try backend(kms) }.run(check)
    }

    @Test func aKeyWithoutCreationDateIsNeverTakenForAStalePendingKey() async throws {
        let kms = InMemoryAWSKMS()
        let backend = try backend(kms)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "ageless.example.org")
        kms.omitCreationDate = true
        let listed = try await backend.list(trustDomain: "ageless.example.org")
        #expect(listed.map(\.ref) == [key.ref] && listed.first?.createdAt == nil && listed.first?.mark == .pending)
        // Core's reconciler, from a clock far past any grace: the key of unknown age stays.
        var config = CoordinatorConfig(trustDomain: "ageless.example.org", instanceID: "t")
        config.pendingGrace = .seconds(3600)
        let later = try Coordinator(config: config, store: InMemoryStore(), backend: backend,
                                    clock: { Date().addingTimeInterval(30 * 86_400) })
        #expect(try await later.reconcile() == 0)
        #expect(try await backend.list(trustDomain: "ageless.example.org").map(\.ref) == [key.ref])
    }
}

/// The Azure backend's decisions over the in-memory Key Vault: the conformance checks
/// without a server (lists paged by two), and purging that is asked for.
@Suite struct AzureKeyVaultBackendLogicTests {
    func backend(_ vault: InMemoryAzureKeyVault, purge: Bool = false) throws -> AzureKeyVaultBackend {
        try AzureKeyVaultBackend(config: AzureKeyVaultConfig(vaultURL: vault.vault, purgeDeleted: purge), client: vault)
    }

    @Test(arguments: BackendConformanceTests.withoutFaults)
    func conformance(_ check: BackendConformance.Check) async throws {
        let vault = InMemoryAzureKeyVault()
        try await BackendConformance { try backend(vault) }.run(check)
    }

    @Test func purgeRemovesTheDeletedKeyAndIsIdempotent() async throws {
        let vault = InMemoryAzureKeyVault()
        let kept = try await backend(vault).create(keyType: .ecP256, trustDomain: "purge.example.org")
        try await backend(vault).destroy(ref: kept.ref)
        let purging = try backend(vault, purge: true)
        let purged = try await purging.create(keyType: .ecP256, trustDomain: "purge.example.org")
        try await purging.destroy(ref: purged.ref)
        try await purging.destroy(ref: purged.ref)
        #expect(vault.deletedNames == [try purging.parse(kept.ref).0])
    }
}
