import Foundation
@testable import Service
import XCTest

final class RFC3339Tests: XCTestCase {
    func testFormatsAndParsesAgainstFoundation() {
        let reference = ISO8601DateFormatter()
        for seconds in [0.0, 951_782_400, 1_795_000_000, 4_102_444_799] {
            let date = Date(timeIntervalSince1970: seconds)
            XCTAssertEqual(RFC3339.format(date), reference.string(from: date))
            XCTAssertEqual(RFC3339.parse(RFC3339.format(date)), date)
        }
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 1.25), fractional: true), "1970-01-01T00:00:01.250Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 3_723.0075), fractional: true), "1970-01-01T01:02:03.007Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 253_402_300_800)), "10000-01-01T00:00:00Z")
    }

    func testOffsetsFractionsAndCase() {
        let utc = RFC3339.parse("2026-11-27T05:00:00Z")
        XCTAssertEqual(RFC3339.parse("2026-11-27T07:30:00+02:30"), utc)
        XCTAssertEqual(RFC3339.parse("2026-11-27t05:00:00z"), utc)
        XCTAssertEqual(RFC3339.parse("2026-11-27T04:00:00-01:00"), utc)
        XCTAssertEqual(RFC3339.parse("2026-11-27T05:00:00.5Z")?.timeIntervalSince1970, utc.map { $0.timeIntervalSince1970 + 0.5 })
    }

    func testRefusesMalformedTimes() {
        for bad in ["", "2026-11-27", "2026-11-27 05:00:00Z", "2026-11-27T05:00:00", "2026-02-31T00:00:00Z",
                    "2026-13-01T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T05:00:00.Z", "2026-11-27T05:00:00+0200",
                    "2026-11-27T05:00:00Zjunk", "+2026-11-27T05:00:00Z", "２０２６-11-27T05:00:00Z"] {
            XCTAssertNil(RFC3339.parse(bad), bad)
        }
    }
}
