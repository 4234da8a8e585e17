/// Why a request was refused before it reached a handler. Each case maps to one status code
/// and one problem type; the connection is closed after the answer because the framing of
/// anything that follows can no longer be trusted.
public enum HTTPParseError: Error, Equatable, Sendable {
    case invalidMethod
    case invalidTarget
    case invalidVersion
    case unsupportedVersion
    case requestLineTooLong
    case headersTooLarge
    case tooManyHeaders
    case invalidLineEnding
    case obsoleteLineFolding
    case whitespaceBeforeColon
    case invalidHeaderName
    case invalidHeaderValue
    case missingHost
    case repeatedHost
    case contentLengthWithTransferEncoding
    case invalidContentLength
    case repeatedContentLength
    case unsupportedTransferCoding
    case invalidTransferCoding
    case transferEncodingInHTTP10
    case bodyTooLarge
    case invalidChunkSize
    case chunkSizeOverflow
    case invalidChunkFraming
    case unsupportedExpectation
    case headerTimeout
    case bodyTimeout

    /// The status code the server answers with.
    public var status: Int {
        switch self {
        case .unsupportedVersion: return 505
        case .requestLineTooLong: return 414
        case .headersTooLarge, .tooManyHeaders: return 431
        case .unsupportedTransferCoding: return 501
        case .bodyTooLarge: return 413
        case .unsupportedExpectation: return 417
        case .headerTimeout, .bodyTimeout: return 408
        default: return 400
        }
    }

    /// The last segment of the problem type URI.
    public var slug: String {
        switch self {
        case .invalidMethod: return "invalid-method"
        case .invalidTarget: return "invalid-request-target"
        case .invalidVersion: return "invalid-http-version"
        case .unsupportedVersion: return "http-version-not-supported"
        case .requestLineTooLong: return "request-line-too-long"
        case .headersTooLarge: return "header-fields-too-large"
        case .tooManyHeaders: return "too-many-header-fields"
        case .invalidLineEnding: return "invalid-line-ending"
        case .obsoleteLineFolding: return "obsolete-line-folding"
        case .whitespaceBeforeColon: return "whitespace-before-colon"
        case .invalidHeaderName: return "invalid-header-name"
        case .invalidHeaderValue: return "invalid-header-value"
        case .missingHost: return "missing-host"
        case .repeatedHost: return "repeated-host"
        case .contentLengthWithTransferEncoding: return "ambiguous-message-framing"
        case .invalidContentLength: return "invalid-content-length"
        case .repeatedContentLength: return "repeated-content-length"
        case .unsupportedTransferCoding: return "unsupported-transfer-coding"
        case .invalidTransferCoding: return "invalid-transfer-coding"
        case .transferEncodingInHTTP10: return "transfer-encoding-in-http-1.0"
        case .bodyTooLarge: return "body-too-large"
        case .invalidChunkSize: return "invalid-chunk-size"
        case .chunkSizeOverflow: return "chunk-size-overflow"
        case .invalidChunkFraming: return "invalid-chunk-framing"
        case .unsupportedExpectation: return "unsupported-expectation"
        case .headerTimeout: return "header-timeout"
        case .bodyTimeout: return "body-timeout"
        }
    }

    /// A sentence for the problem's `detail` member.
    public var detail: String {
        switch self {
        case .invalidMethod: return "The request method is not a valid token."
        case .invalidTarget: return "The request-target is not a valid origin-form, absolute-form or asterisk-form."
        case .invalidVersion: return "The HTTP-version of the request line is malformed."
        case .unsupportedVersion: return "Only HTTP/1.0 and HTTP/1.1 are served."
        case .requestLineTooLong: return "The request line exceeds the server's limit."
        case .headersTooLarge: return "The header section exceeds the server's size limit."
        case .tooManyHeaders: return "The header section has more fields than the server accepts."
        case .invalidLineEnding: return "Lines must end with CRLF; a bare CR or LF was found."
        case .obsoleteLineFolding: return "Obsolete line folding is not accepted."
        case .whitespaceBeforeColon: return "Whitespace between a field name and the colon is not allowed."
        case .invalidHeaderName: return "A header field name contains a byte outside the token set."
        case .invalidHeaderValue: return "A header field value contains a control byte."
        case .missingHost: return "An HTTP/1.1 request must carry exactly one Host field."
        case .repeatedHost: return "The Host field appears more than once."
        case .contentLengthWithTransferEncoding: return "Content-Length and Transfer-Encoding must not appear together."
        case .invalidContentLength: return "Content-Length is not a decimal number within range."
        case .repeatedContentLength: return "Content-Length appears more than once."
        case .unsupportedTransferCoding: return "Only the chunked transfer coding is supported."
        case .invalidTransferCoding: return "Transfer-Encoding is malformed."
        case .transferEncodingInHTTP10: return "Transfer-Encoding is not defined for HTTP/1.0 requests."
        case .bodyTooLarge: return "The request body exceeds the server's limit."
        case .invalidChunkSize: return "A chunk size is not a hexadecimal number."
        case .chunkSizeOverflow: return "A chunk size is too large to represent."
        case .invalidChunkFraming: return "The chunked body is malformed."
        case .unsupportedExpectation: return "Only the 100-continue expectation is supported."
        case .headerTimeout: return "The request header section did not arrive in time."
        case .bodyTimeout: return "The request body did not arrive in time."
        }
    }
}
