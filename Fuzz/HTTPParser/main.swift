// libFuzzer entry for the HTTP request parser. Built outside SwiftPM by scripts/fuzz.sh
// (swiftc -sanitize=fuzzer,address over Sources/HTTP/Parsing plus this file), because
// -sanitize=fuzzer needs its own main and does not fit the package graph.
//
// Beyond "no crash, no sanitizer report", it checks properties the server relies on:
// - every range the parser returns lies inside the input, and a parsed head uses > 0 bytes;
// - feeding the input in two pieces gives the same outcome as feeding it at once (the
//   parser's incremental scan state must not change results);
// - chunked bodies never decode to more than the limit, and consume no more than given.

let limits = RequestHeadParser.Limits(maxRequestLineBytes: 256, maxHeaderBytes: 512, maxHeaderCount: 16, maxBodyBytes: 1024)

enum Outcome: Equatable {
    case incomplete
    case head(used: Int, method: Range<Int>, target: Range<Int>, fields: Int, framing: RequestHead.BodyFraming)
    case failed(HTTPParseError)
}

func parseOnce(_ parser: inout RequestHeadParser, _ bytes: UnsafeRawBufferPointer) -> Outcome {
    var head = RequestHead()
    do throws(HTTPParseError) {
        guard let used = try parser.parse(bytes, into: &head) else { return .incomplete }
        precondition(used > 0 && used <= bytes.count, "used out of range")
        for range in [head.method, head.target] + head.fields.flatMap({ [$0.name, $0.value] }) {
            precondition(range.lowerBound >= 0 && range.upperBound <= used, "range outside the head")
        }
        return .head(used: used, method: head.method, target: head.target, fields: head.fields.count, framing: head.framing)
    } catch {
        return .failed(error)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)

    var whole = RequestHeadParser(limits: limits)
    let expected = parseOnce(&whole, bytes)

    if size > 1 {
        let split = Int(data[0]) % size
        var pieces = RequestHeadParser(limits: limits)
        let first = parseOnce(&pieces, UnsafeRawBufferPointer(rebasing: bytes[0..<split]))
        switch first {
        case .incomplete:
            precondition(parseOnce(&pieces, bytes) == expected, "split parse differs")
        case .head:
            precondition(first == expected, "a head complete in a prefix differs from the whole input's")
        case .failed(let error):
            if case .failed(let wholeError) = expected {
                precondition(error == wholeError, "split error \(error) differs from \(wholeError)")
            } else {
                preconditionFailure("prefix failed with \(error) but whole input gave \(expected)")
            }
        }
    }

    if case .head(let used, _, let target, _, let framing) = expected {
        _ = RequestTarget(UnsafeRawBufferPointer(rebasing: bytes[target]))
        _ = RequestTarget.pathSegments(UnsafeRawBufferPointer(rebasing: bytes[target]))
        if framing == .chunked {
            var decoder = ChunkedBodyDecoder(maxBodyBytes: limits.maxBodyBytes, maxTrailerBytes: limits.maxHeaderBytes)
            var body: [UInt8] = []
            let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
            if let consumed = try? decoder.decode(rest, into: &body) {
                precondition(consumed <= rest.count, "chunk decoder consumed too much")
            }
            precondition(body.count <= limits.maxBodyBytes, "body over limit")
        }
    }
    return 0
}
