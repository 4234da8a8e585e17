#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Strict, incremental parser of an HTTP/1.x request head (request line and header section,
/// RFC 9112 §3 and §5) over bytes the caller owns. It copies nothing: the result is a set of
/// ranges into the caller's buffer. Ambiguity is refused rather than guessed at, because a
/// lenient parser in front of another parser is how request smuggling starts.
struct RequestHeadParser {
    /// The size limits the parser enforces; they come from `ServerLimits`.
    struct Limits {
        var maxRequestLineBytes: Int
        var maxHeaderBytes: Int
        var maxHeaderCount: Int
        var maxBodyBytes: Int
    }

    let limits: Limits
    /// Offset up to which the buffer is known not to contain the end of the head.
    private var scanned = 0
    /// Whether the request line has already been validated (so a bad one is refused early).
    private var requestLineChecked = false

    init(limits: Limits) {
        self.limits = limits
    }

    /// Forgets the progress of the current request; call after a head was consumed.
    mutating func reset() {
        scanned = 0
        requestLineChecked = false
    }

    /// Parses a head starting at the first byte of `bytes`. Returns the number of bytes the
    /// head occupies (ranges in `head` are relative to `bytes`), or nil if more bytes are needed.
    mutating func parse(_ bytes: UnsafeRawBufferPointer, into head: inout RequestHead) throws(HTTPParseError) -> Int? {
        let count = bytes.count
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
        var start = 0
        while start + 1 < count, bytes[start] == 0x0D, bytes[start + 1] == 0x0A { start += 2 }
        if start >= count || (start + 1 == count && bytes[start] == 0x0D) {
            if start > limits.maxRequestLineBytes { throw .requestLineTooLong }
            return nil
        }

        guard let lineEnd = Self.findByte(0x0A, in: bytes, from: start) else {
            if count - start > limits.maxRequestLineBytes { throw .requestLineTooLong }
            return nil
        }
        if lineEnd - start > limits.maxRequestLineBytes { throw .requestLineTooLong }
        if !requestLineChecked {
            try parseRequestLine(bytes, from: start, lineFeed: lineEnd, into: &head)
            requestLineChecked = true
        }

        guard let end = findHeadEnd(bytes, from: max(scanned, lineEnd)) else {
            if count - (lineEnd + 1) > limits.maxHeaderBytes + 2 { throw .headersTooLarge }
            return nil
        }
        if end - (lineEnd + 1) > limits.maxHeaderBytes + 2 { throw .headersTooLarge }

        head.reset()
        try parseRequestLine(bytes, from: start, lineFeed: lineEnd, into: &head)
        try parseFields(bytes, from: lineEnd + 1, end: end, into: &head)
        return end
    }

    /// Finds the index just past the empty line that ends the head: an LF followed by CRLF
    /// (or by a bare LF, which field parsing then refuses).
    private mutating func findHeadEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var index = from
        let count = bytes.count
        while let lf = Self.findByte(0x0A, in: bytes, from: index) {
            if lf + 1 >= count { scanned = lf; return nil }
            if bytes[lf + 1] == 0x0A { return lf + 2 }
            if bytes[lf + 1] == 0x0D {
                if lf + 2 >= count { scanned = lf; return nil }
                if bytes[lf + 2] == 0x0A { return lf + 3 }
            }
            index = lf + 1
        }
        scanned = max(count - 1, from)
        return nil
    }

    /// request-line = method SP request-target SP HTTP-version CRLF
    private func parseRequestLine(_ bytes: UnsafeRawBufferPointer, from start: Int, lineFeed: Int,
                                  into head: inout RequestHead) throws(HTTPParseError) {
        guard lineFeed > start, bytes[lineFeed - 1] == 0x0D else { throw .invalidLineEnding }
        let lineEnd = lineFeed - 1

        var index = start
        while index < lineEnd, ByteClass.isToken(bytes[index]) { index += 1 }
        guard index > start, index < lineEnd, bytes[index] == 0x20 else { throw .invalidMethod }
        head.method = start..<index

        index += 1
        let targetStart = index
        while index < lineEnd, ByteClass.target[Int(bytes[index])] { index += 1 }
        guard index > targetStart, index < lineEnd, bytes[index] == 0x20 else {
            if index < lineEnd, bytes[index] == 0x0D { throw .invalidLineEnding }
            throw .invalidTarget
        }
        head.target = targetStart..<index
        try Self.checkTargetForm(bytes, target: head.target, method: head.method)

        index += 1
        guard lineEnd - index == 8,
              bytes[index] == UInt8(ascii: "H"), bytes[index + 1] == UInt8(ascii: "T"),
              bytes[index + 2] == UInt8(ascii: "T"), bytes[index + 3] == UInt8(ascii: "P"),
              bytes[index + 4] == UInt8(ascii: "/"), bytes[index + 6] == UInt8(ascii: "."),
              let major = Self.digit(bytes[index + 5]), let minor = Self.digit(bytes[index + 7])
        else {
            for position in index..<lineEnd where bytes[position] == 0x0D { throw .invalidLineEnding }
            throw .invalidVersion
        }
        guard major == 1 else { throw .unsupportedVersion }
        head.versionMajor = major
        head.versionMinor = minor
    }

    /// origin-form ("/…"), absolute-form ("http://…"), or asterisk-form ("*" for OPTIONS).
    private static func checkTargetForm(_ bytes: UnsafeRawBufferPointer, target: Range<Int>,
                                        method: Range<Int>) throws(HTTPParseError) {
        let first = bytes[target.lowerBound]
        if first == UInt8(ascii: "/") { return }
        if first == UInt8(ascii: "*") {
            let isOptions = method.count == 7 && equals(bytes, method, "OPTIONS", caseInsensitive: false)
            guard target.count == 1, isOptions else { throw .invalidTarget }
            return
        }
        let start = target.lowerBound
        if target.count > 7, equals(bytes, start..<(start + 7), "http://", caseInsensitive: true) { return }
        if target.count > 8, equals(bytes, start..<(start + 8), "https://", caseInsensitive: true) { return }
        throw .invalidTarget
    }

    /// field-line = field-name ":" OWS field-value OWS, one per CRLF-terminated line.
    private func parseFields(_ bytes: UnsafeRawBufferPointer, from: Int, end: Int,
                             into head: inout RequestHead) throws(HTTPParseError) {
        var hostCount = 0
        var contentLength: Int?
        var transferCodings = TransferCodings()
        var lineStart = from

        while true {
            guard let lf = Self.findByte(0x0A, in: bytes, from: lineStart), lf < end else {
                throw .invalidLineEnding
            }
            guard lf > lineStart, bytes[lf - 1] == 0x0D else { throw .invalidLineEnding }
            let lineEnd = lf - 1
            if lineEnd == lineStart { break }

            let first = bytes[lineStart]
            if first == 0x20 || first == 0x09 { throw .obsoleteLineFolding }

            var index = lineStart
            while index < lineEnd, ByteClass.isToken(bytes[index]) { index += 1 }
            guard index < lineEnd else { throw .invalidHeaderName }
            switch bytes[index] {
            case UInt8(ascii: ":"):
                guard index > lineStart else { throw .invalidHeaderName }
            case 0x20, 0x09:
                throw .whitespaceBeforeColon
            case 0x0D:
                throw .invalidLineEnding
            default:
                throw .invalidHeaderName
            }
            let name = lineStart..<index

            index += 1
            while index < lineEnd, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
            let valueStart = index
            var valueEnd = index
            while index < lineEnd {
                let byte = bytes[index]
                guard ByteClass.fieldValue[Int(byte)] else {
                    if byte == 0x0D { throw .invalidLineEnding }
                    throw .invalidHeaderValue
                }
                index += 1
                if byte != 0x20 && byte != 0x09 { valueEnd = index }
            }
            let value = valueStart..<valueEnd

            if head.fields.count == limits.maxHeaderCount { throw .tooManyHeaders }
            head.fields.append(RequestHead.Field(name: name, value: value))

            switch name.count {
            case 4 where Self.equals(bytes, name, "host", caseInsensitive: true):
                hostCount += 1
                if hostCount > 1 { throw .repeatedHost }
            case 6 where Self.equals(bytes, name, "expect", caseInsensitive: true):
                if Self.equals(bytes, value, "100-continue", caseInsensitive: true) {
                    head.expectContinue = head.versionMinor >= 1
                } else if head.versionMinor >= 1 {
                    throw .unsupportedExpectation
                }
            case 10 where Self.equals(bytes, name, "connection", caseInsensitive: true):
                Self.forEachListElement(bytes, value) { element in
                    if Self.equals(bytes, element, "close", caseInsensitive: true) { head.connectionClose = true }
                    if Self.equals(bytes, element, "keep-alive", caseInsensitive: true) { head.connectionKeepAlive = true }
                }
            case 14 where Self.equals(bytes, name, "content-length", caseInsensitive: true):
                if contentLength != nil { throw .repeatedContentLength }
                contentLength = try Self.parseContentLength(bytes, value)
            case 17 where Self.equals(bytes, name, "transfer-encoding", caseInsensitive: true):
                try transferCodings.add(bytes, value)
            default:
                break
            }
            lineStart = lf + 1
        }

        if head.versionMinor >= 1 && hostCount == 0 { throw .missingHost }
        if transferCodings.present {
            if contentLength != nil { throw .contentLengthWithTransferEncoding }
            if head.versionMinor == 0 { throw .transferEncodingInHTTP10 }
            try transferCodings.validate()
            head.framing = .chunked
        } else if let length = contentLength {
            if length > limits.maxBodyBytes { throw .bodyTooLarge }
            head.framing = length > 0 ? .contentLength(length) : .none
        }
    }

    /// The elements of a Transfer-Encoding field (possibly spread over several lines); only a
    /// single, final `chunked` is accepted.
    private struct TransferCodings {
        var present = false
        var count = 0
        var chunkedCount = 0
        var lastIsChunked = false

        mutating func add(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) throws(HTTPParseError) {
            present = true
            var invalid = false
            var sawElement = false
            RequestHeadParser.forEachListElement(bytes, value) { element in
                sawElement = true
                var tokenEnd = element.lowerBound
                while tokenEnd < element.upperBound, ByteClass.isToken(bytes[tokenEnd]) { tokenEnd += 1 }
                if tokenEnd == element.lowerBound { invalid = true; return }
                // Parameters (";q=…") are allowed by the grammar but no coding we accept has any.
                if tokenEnd != element.upperBound {
                    let separator = bytes[tokenEnd]
                    if separator != UInt8(ascii: ";") && separator != 0x20 && separator != 0x09 { invalid = true; return }
                }
                count += 1
                let isChunked = RequestHeadParser.equals(bytes, element.lowerBound..<tokenEnd, "chunked", caseInsensitive: true)
                    && tokenEnd == element.upperBound
                if isChunked { chunkedCount += 1 }
                lastIsChunked = isChunked
            }
            if invalid || !sawElement { throw .invalidTransferCoding }
        }

        func validate() throws(HTTPParseError) {
            if chunkedCount > 1 { throw .invalidTransferCoding }
            guard count == 1, lastIsChunked else { throw .unsupportedTransferCoding }
        }
    }

    /// Calls `body` for each non-empty element of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed.
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var index = range.lowerBound
        while index < range.upperBound {
            while index < range.upperBound, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == UInt8(ascii: ",") {
                index += 1
            }
            let start = index
            var end = index
            while index < range.upperBound, bytes[index] != UInt8(ascii: ",") {
                if bytes[index] != 0x20 && bytes[index] != 0x09 { end = index + 1 }
                index += 1
            }
            if end > start { body(start..<end) }
        }
    }

    /// Content-Length = 1*DIGIT, bounded so it cannot overflow.
    private static func parseContentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) throws(HTTPParseError) -> Int {
        guard !value.isEmpty, value.count <= 18 else { throw .invalidContentLength }
        var result = 0
        for index in value {
            guard let digit = digit(bytes[index]) else { throw .invalidContentLength }
            result = result * 10 + digit
        }
        return result
    }

    @inline(__always)
    static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }

    /// Whether the bytes in `range` equal the ASCII `literal` (the literal is given lowercase
    /// when `caseInsensitive`).
    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString,
                       caseInsensitive: Bool) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let pointer = literal.utf8Start
        var offset = 0
        for index in range {
            let byte = caseInsensitive ? ByteClass.lower(bytes[index]) : bytes[index]
            if byte != pointer[offset] { return false }
            offset += 1
        }
        return true
    }

    static func findByte(_ byte: UInt8, in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(byte), bytes.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }
}
