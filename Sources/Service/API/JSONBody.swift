import Foundation
import HTTP
import HTTPTypes
import JSON

/// A JSON object from a request body, read strictly: the body must be one UTF-8 JSON
/// object sent as `application/json`, unknown members are refused (a typo must not
/// silently fall back to a default), `null` is refused (no member is nullable: leave it
/// out), and each accessor checks the member's type.
struct JSONBody {
    private let members: [String: Any]

    init(_ members: [String: Any]) { self.members = members }

    /// Parses a request's body; a non-empty body must be declared `application/json` (or a
    /// `+json` type), else 415.
    static func parse(_ request: HTTPServerRequest, allowed: Set<String>, allowEmpty: Bool = false) throws -> JSONBody {
        if !request.body.isEmpty {
            let declared = request.headerFields[.contentType] ?? ""
            // The common exact spelling skips the parameter split and case folding.
            let media = declared == "application/json" ? declared
                : declared.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else {
                throw APIError.unsupportedMediaType(declared.isEmpty
                    ? "the body needs Content-Type: application/json"
                    : "the body is \(declared); send it as Content-Type: application/json")
            }
        }
        return try parse(request.body, allowed: allowed, allowEmpty: allowEmpty)
    }

    /// Parses `body`; an empty body counts as `{}` when `allowEmpty`.
    static func parse(_ body: [UInt8], allowed: Set<String>, allowEmpty: Bool = false) throws -> JSONBody {
        if body.isEmpty {
            if allowEmpty { return JSONBody([:]) }
            throw APIError.malformedJSON("the request needs a JSON object body")
        }
        guard String(validating: body, as: UTF8.self) != nil else {
            throw APIError.malformedJSON("the body is not valid UTF-8")
        }
        let object: Any
        do {
            object = try JSONReader.parse(body)
        } catch let failure as JSONReader.Failure {
            throw APIError.malformedJSON("the body is not valid JSON: \(failure)")
        }
        guard let members = object as? [String: Any] else {
            throw APIError.malformedJSON("the body must be a JSON object")
        }
        return try JSONBody(members, allowed: allowed)
    }

    /// A nested object, held to the same rule: members outside `allowed` are refused.
    init(_ members: [String: Any], allowed: Set<String>) throws {
        let unknown = members.keys.filter { !allowed.contains($0) }
        if !unknown.isEmpty {
            throw APIError.badRequest("unknown member(s) \(unknown.sorted().joined(separator: ", ")); allowed: \(allowed.sorted().joined(separator: ", "))")
        }
        let nulls = members.compactMap { $0.value is JSONReader.Null ? $0.key : nil }.sorted()
        if !nulls.isEmpty {
            throw APIError.badRequest("\(nulls.joined(separator: ", ")) must not be null; leave a member out to take its default")
        }
        self.members = members
    }

    func has(_ key: String) -> Bool { members[key] != nil }

    func string(_ key: String, maxLength: Int = 4096) throws -> String? {
        guard has(key) else { return nil }
        guard let value = members[key] as? String else { throw APIError.badRequest("\(key) must be a string") }
        guard value.utf8.count <= maxLength else { throw APIError.badRequest("\(key) is longer than \(maxLength) bytes") }
        return value
    }

    func requiredString(_ key: String, maxLength: Int = 4096) throws -> String {
        guard let value = try string(key, maxLength: maxLength), !value.isEmpty else {
            throw APIError.badRequest("\(key) is required")
        }
        return value
    }

    func integer(_ key: String, in range: ClosedRange<Int64>) throws -> Int64? {
        guard has(key), let member = members[key] else { return nil }
        // Exact types (JSONReader makes Int64 or Double): a cast could bridge a Bool to 0 or 1.
        let value: Int64?
        if type(of: member) == Int64.self {
            value = member as? Int64
        } else if type(of: member) == Double.self, let double = member as? Double {
            value = Int64(exactly: double)
        } else {
            value = nil
        }
        guard let value else { throw APIError.badRequest("\(key) must be a whole number") }
        guard range.contains(value) else { throw APIError.badRequest("\(key) must be between \(range.lowerBound) and \(range.upperBound)") }
        return value
    }

    func object(_ key: String) throws -> [String: Any]? {
        guard has(key) else { return nil }
        guard let value = members[key] as? [String: Any] else { throw APIError.badRequest("\(key) must be an object") }
        return value
    }

    func raw(_ key: String) -> Any? { has(key) ? members[key] : nil }
}

/// JSON responses, from the typed bodies of `WireFormat`.
enum JSONResponse {
    static func make<Body: Encodable>(_ status: HTTPResponse.Status = .ok, _ body: Body) throws -> HTTPServerResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return HTTPServerResponse(status: status, headerFields: fields, body: Array((try JSONWriter.encode(body) + "\n").utf8))
    }
}
