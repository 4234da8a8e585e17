import Foundation
import Service
import TestSupport
import XCTest

/// The documents operators and client authors rely on stay true to the code.
final class ContractTests: XCTestCase {
    static var repositoryRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    func testOpenAPIIsValidAndListsExactlyTheRoutedOperations() async throws {
        let harness = try await ServiceHarness.start()
        let routed = Set(harness.service.routes.map { "\($0.method) \($0.template)" })
        await harness.stop()
        let output = try PythonCheck.run("service_openapi.py", input: ["path": Self.repositoryRoot + "/openapi.yaml"])
        let operations = ((output as? [String: Any])?["operations"] as? [[String]]) ?? []
        let documented = Set(operations.map { "\($0[0]) \($0[1])" })
        XCTAssertFalse(documented.isEmpty)
        XCTAssertEqual(routed.subtracting(documented), [], "routed but not in openapi.yaml")
        XCTAssertEqual(documented.subtracting(routed), [], "in openapi.yaml but not routed")
    }

    func testConfigurationReferenceNamesEverySetting() throws {
        let reference = try String(contentsOfFile: Self.repositoryRoot + "/docs/configuration.md", encoding: .utf8)
        for setting in ServiceSettings.all {
            XCTAssertTrue(reference.contains("`--\(setting.name)`"), "docs/configuration.md lacks --\(setting.name)")
            XCTAssertTrue(reference.contains("`\(setting.environmentName)`"), "docs/configuration.md lacks \(setting.environmentName)")
        }
    }
}
