import HTTPTypes

/// Serialises response heads (RFC 9112 §4 and §5). The server owns framing: `Content-Length`,
/// `Transfer-Encoding`, `Date` and `Connection` from handlers are dropped and written by the
/// server.
enum ResponseRenderer {
    /// "HTTP/1.1 <code> <reason>\r\n", the handler's fields, then "Content-Length: n\r\n" when
    /// the status allows a body. The head is left open for `Date`/`Connection` and the final CRLF.
    static func appendStatusLineAndFields(status: HTTPResponse.Status, headerFields: HTTPFields,
                                          contentLength: Int, to out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status.code, to: &out)
        out.append(0x20)
        let reason = status.reasonPhrase.isEmpty ? defaultReason(status.code) : status.reasonPhrase
        out.append(contentsOf: reason.utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        for field in headerFields where !isServerOwned(field.name) {
            out.append(contentsOf: field.name.rawName.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        if allowsContentLength(status.code) {
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(contentLength, to: &out)
            out.append(contentsOf: [0x0D, 0x0A])
        }
    }

    /// The handler's fields as an HTTP/2 field list (RFC 9113 §8.2.2: lower-case names, no
    /// connection-specific fields), then `content-length` when the status allows a body.
    /// `:status` and `date` are the connection's to add.
    static func http2Fields(status: HTTPResponse.Status, headerFields: HTTPFields,
                            contentLength: Int) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(headerFields.count + 1)
        for field in headerFields where !isServerOwned(field.name) && !isConnectionSpecific(field.name) {
            fields.append((field.name.canonicalName, field.value))
        }
        if allowsContentLength(status.code) { fields.append(("content-length", String(contentLength))) }
        return fields
    }

    /// Fields HTTP/2 forbids (RFC 9113 §8.2.2): they describe an HTTP/1.1 connection.
    private static func isConnectionSpecific(_ name: HTTPField.Name) -> Bool {
        switch name.canonicalName {
        case "keep-alive", "proxy-connection", "upgrade", "te": return true
        default: return false
        }
    }

    /// Whether a response with this status may carry a body (RFC 9110 §6.4.1).
    static func allowsBody(_ code: Int) -> Bool {
        !(100..<200).contains(code) && code != 204 && code != 304
    }

    static func allowsContentLength(_ code: Int) -> Bool {
        !(100..<200).contains(code) && code != 204 && code != 304
    }

    private static func isServerOwned(_ name: HTTPField.Name) -> Bool {
        name == .contentLength || name == .transferEncoding || name == .date || name == .connection
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(truncatingIfNeeded: 0x30 + max(value, 0)))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 && count < 20 {
                buffer[19 - count] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    static func defaultReason(_ code: Int) -> String {
        switch code {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return ""
        }
    }
}
