import Foundation
import XCTest
@testable import Service

/// The log writer on a pipe nobody reads for a while: callers never block, lines beyond the
/// buffer are dropped and counted, and what arrives is whole lines in order.
final class LogWriterTests: XCTestCase {
    func testAFullPipeDropsAndCountsLinesWithoutBlockingCallers() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]) }
        // The write end stays open until the reader has drained it (closed below).
        let writer = LogWriter(fileDescriptor: ends[1], capacity: 256 * 1024)
        let line = String(repeating: "x", count: 90)
        let lines = 10_000
        let started = Date()
        // ~950 KiB: more than the pipe (64 KiB), the batch being written and the buffer behind
        // it (256 KiB each) can hold.
        for index in 0..<lines { writer.write("\(index) \(line)\n") }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "writing to a full pipe must not block the caller")
        XCTAssertFalse(writer.flush(timeout: 0.2), "the pipe is full, so not everything can be written yet")

        // Start reading: the writer drains and reports what it had to drop.
        let readEnd = ends[0]
        let received = LockedArray<UInt8>()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(readEnd, &buffer, buffer.count)
                if n <= 0 { break }
                for byte in buffer[0..<n] { received.append(byte) }
            }
            finished.signal()
        }
        XCTAssertTrue(writer.flush(timeout: 10))
        close(ends[1])
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        let text = String(decoding: received.values, as: UTF8.self)
        let arrived = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let numbers = arrived.compactMap { $0.hasSuffix(line) ? Int($0.split(separator: " ")[0]) : nil }
        let notices = arrived.filter { $0.contains("log lines dropped") }
        XCTAssertEqual(numbers.count + notices.count, arrived.count, "only whole lines arrive")
        XCTAssertEqual(numbers, numbers.sorted(), "lines keep their order")
        XCTAssertLessThan(numbers.count, lines)
        // Each stretch of dropping is reported once output resumes; the counts add up.
        XCTAssertGreaterThanOrEqual(notices.count, 1)
        let dropped = notices.compactMap { notice in
            (try? JSONSerialization.jsonObject(with: Data(notice.utf8)) as? [String: String])?["dropped"].flatMap { Int($0) }
        }
        XCTAssertEqual(dropped.count, notices.count, "every notice carries its count")
        XCTAssertEqual(dropped.reduce(0, +), lines - numbers.count, "every line is either written or counted")
    }
}
