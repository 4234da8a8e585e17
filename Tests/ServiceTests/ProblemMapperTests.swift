import Core
import Foundation
import HTTP
@testable import Service
import XCTest

/// Backend failure kinds become one status and problem type each, whichever backend raised them.
final class ProblemMapperTests: XCTestCase {
    private func problem(_ failure: BackendError) throws -> (status: Int, body: [String: Any], retryAfter: String?) {
        let response = ProblemMapper.response(for: CoordinationError.backendFailure(failure))
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        return (response.status.code, body, response.headerFields[.retryAfter])
    }

    func testTransientKindsAre503WithRetryAfter() throws {
        let throttled = try problem(BackendError(.throttled, "GCP Cloud KMS asymmetricSign is throttled", retryAfter: .seconds(7)))
        XCTAssertEqual(throttled.status, 503)
        XCTAssertEqual(throttled.body["type"] as? String, "https://keycoord.dev/problems/backend-throttled")
        XCTAssertEqual(throttled.retryAfter, "7")
        XCTAssertEqual(throttled.body["retry_after_seconds"] as? String, "7")
        let unavailable = try problem(BackendError(.unavailable, "no response"))
        XCTAssertEqual(unavailable.status, 503)
        XCTAssertEqual(unavailable.body["type"] as? String, "https://keycoord.dev/problems/backend-unavailable")
        XCTAssertEqual(unavailable.retryAfter, String(ProblemMapper.defaultBackendRetryAfter))
    }

    func testRefusalsAre502WithTheCloudsMessageAndPermission() throws {
        let denied = try problem(BackendError(.denied, "AWS KMS Sign was denied (needs kms:Sign): User is not authorized",
                                              permission: "kms:Sign"))
        XCTAssertEqual(denied.status, 502)
        XCTAssertEqual(denied.body["type"] as? String, "https://keycoord.dev/problems/backend-denied")
        XCTAssertEqual(denied.body["permission"] as? String, "kms:Sign")
        XCTAssertTrue((denied.body["detail"] as? String ?? "").contains("User is not authorized"))
        XCTAssertNil(denied.retryAfter)
        for (kind, slug) in [(BackendError.Kind.notFound, "backend-not-found"), (.invalid, "backend-invalid"), (.failed, "backend-failure")] {
            let answer = try problem(BackendError(kind, "x"))
            XCTAssertEqual(answer.status, 502, "\(kind)")
            XCTAssertEqual(answer.body["type"] as? String, "https://keycoord.dev/problems/\(slug)")
        }
    }
}
