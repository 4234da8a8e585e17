import HTTPTypes
import Testing
@testable import HTTP

struct RouterTests {
    static func handler(_ label: String) -> HTTPHandler {
        .sync { _ in HTTPServerResponse(status: .ok, body: Array(label.utf8)) }
    }

    static func label(_ match: Router.Match) -> String? {
        guard case .found(let handler, _, _) = match, case .sync(let body) = handler else { return nil }
        return String(decoding: body(HTTPServerRequest(method: .get, target: "/", path: "/")).body, as: UTF8.self)
    }

    static func match(_ router: Router, _ method: HTTPRequest.Method, _ target: String) -> Router.Match {
        let path = Array(target.utf8).withUnsafeBytes { RequestTarget($0)?.path } ?? target
        return router.match(method: method, path: path) {
            Array(target.utf8).withUnsafeBytes { RequestTarget.pathSegments($0) }
        }
    }

    @Test func literalBeatsParameterAndParametersAreDecoded() throws {
        let router = Router()
        router.add(.get, "/v1/locks/{name}", Self.handler("param"))
        router.add(.get, "/v1/locks/special", Self.handler("literal"))
        router.add(.post, "/v1/locks/{name}/renew", Self.handler("renew"))
        #expect(Self.label(Self.match(router, .get, "/v1/locks/special")) == "literal")
        #expect(Self.label(Self.match(router, .get, "/v1/locks/other")) == "param")
        #expect(Self.label(Self.match(router, .post, "/v1/locks/a%2Fb/renew")) == "renew")
        guard case .found(_, let template, let parameters) = Self.match(router, .get, "/v1/locks/a%2Fb") else {
            Issue.record("no match")
            return
        }
        #expect(template == "/v1/locks/{name}")
        #expect(parameters == ["name": "a/b"])
    }

    @Test func methodsAndMisses() {
        let router = Router()
        router.add(.get, "/keys", Self.handler("get"))
        router.add(.post, "/v1/keys", Self.handler("post"))
        #expect(Self.label(Self.match(router, .head, "/keys")) == "get")
        guard case .methodNotAllowed(let allow, _) = Self.match(router, .delete, "/keys") else {
            Issue.record("expected 405")
            return
        }
        #expect(allow == [.get, .head])
        guard case .notFound = Self.match(router, .get, "/v1/keys/x") else {
            Issue.record("expected 404")
            return
        }
        guard case .notFound = Self.match(router, .get, "/v1/locks//") else {
            Issue.record("expected 404 for an empty parameter")
            return
        }
        #expect(router.routes.map(\.template) == ["/keys", "/v1/keys"])
    }

    @Test func problemBodyIsValidJSON() throws {
        let response = Problem.response(status: .conflict, type: "lock-held", title: "Lock held",
                                        detail: "held by \"a\"\n", extra: ["holder": "a\\b"])
        #expect(response.status == .conflict)
        #expect(response.headerFields[.contentType] == "application/problem+json")
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text == #"{"type":"https://keycoord.dev/problems/lock-held","title":"Lock held","status":409,"detail":"held by \"a\"\n","holder":"a\\b"}"#)
    }
}
