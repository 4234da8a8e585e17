/// The parts of a request-target a handler uses: the percent-decoded path and query items.
/// Absolute-form targets are reduced to their path and query; asterisk-form yields "*".
struct RequestTarget: Equatable {
    var path: String
    var query: [QueryItem]

    struct QueryItem: Equatable {
        var name: String
        var value: String
    }

    /// Decodes the raw target bytes; nil if percent-encoding is malformed or decodes to invalid UTF-8.
    init?(_ raw: UnsafeRawBufferPointer) {
        var bytes = raw[...]
        if let first = bytes.first, first != UInt8(ascii: "/") {
            if first == UInt8(ascii: "*") {
                path = "*"
                query = []
                return
            }
            // absolute-form: skip "scheme://authority"
            guard let schemeEnd = Self.index(of: "://", in: bytes) else { return nil }
            let afterAuthority = bytes[(schemeEnd + 3)...]
            if let slash = afterAuthority.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) {
                bytes = raw[slash...]
            } else {
                bytes = raw[raw.endIndex...]
            }
        }
        let queryStart = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = bytes[bytes.startIndex..<(queryStart ?? bytes.endIndex)]
        guard let decodedPath = Self.percentDecode(pathBytes, plusAsSpace: false) else { return nil }
        path = decodedPath.isEmpty ? "/" : decodedPath

        query = []
        if let queryStart {
            var itemStart = queryStart + 1
            var cursor = itemStart
            while cursor <= bytes.endIndex {
                if cursor == bytes.endIndex || bytes[cursor] == UInt8(ascii: "&") {
                    if cursor > itemStart {
                        let item = bytes[itemStart..<cursor]
                        let equals = item.firstIndex(of: UInt8(ascii: "=")) ?? item.endIndex
                        guard let name = Self.percentDecode(item[item.startIndex..<equals], plusAsSpace: true),
                              let value = Self.percentDecode(item[Swift.min(equals + 1, item.endIndex)...], plusAsSpace: true)
                        else { return nil }
                        query.append(QueryItem(name: name, value: value))
                    }
                    itemStart = cursor + 1
                }
                cursor += 1
            }
        }
    }

    /// The path's segments of a raw target, each percent-decoded on its own (so "%2F" never
    /// splits a segment); nil if the target has no path or a bad escape.
    static func pathSegments(_ raw: UnsafeRawBufferPointer) -> [String]? {
        var bytes = raw[...]
        if let first = bytes.first, first != UInt8(ascii: "/") {
            guard let schemeEnd = index(of: "://", in: bytes) else { return nil }
            let afterAuthority = bytes[(schemeEnd + 3)...]
            guard let slash = afterAuthority.firstIndex(of: UInt8(ascii: "/")) else { return [""] }
            bytes = raw[slash...]
        }
        let pathEnd = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        var segments: [String] = []
        var segmentStart = bytes.startIndex + 1
        var index = segmentStart
        while index <= pathEnd {
            if index == pathEnd || bytes[index] == UInt8(ascii: "/") {
                guard let segment = percentDecode(bytes[segmentStart..<index], plusAsSpace: false) else { return nil }
                segments.append(segment)
                segmentStart = index + 1
            }
            index += 1
        }
        return segments
    }

    /// Decodes %XX escapes (and "+" as space in queries); nil on a bad escape or invalid UTF-8.
    static func percentDecode(_ bytes: Slice<UnsafeRawBufferPointer>, plusAsSpace: Bool) -> String? {
        if !bytes.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) || $0 >= 0x80 }) {
            // Plain ASCII (always the case for a target the parser accepted): no validation needed.
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes), as: UTF8.self)
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                      let high = ByteClass.hexValue(bytes[index + 1]),
                      let low = ByteClass.hexValue(bytes[index + 2]) else { return nil }
                decoded.append(UInt8(high << 4 | low))
                index += 3
            } else {
                decoded.append(plusAsSpace && byte == UInt8(ascii: "+") ? 0x20 : byte)
                index += 1
            }
        }
        return String(validating: decoded, as: UTF8.self)
    }

    private static func index(of literal: StaticString, in bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        let needle = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard bytes.count >= needle.count else { return nil }
        var index = bytes.startIndex
        while index + needle.count <= bytes.endIndex {
            if zip(bytes[index..<(index + needle.count)], needle).allSatisfy({ $0 == $1 }) { return index }
            index += 1
        }
        return nil
    }
}
