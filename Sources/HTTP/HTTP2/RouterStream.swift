import EventIO
import HTTP2
import HTTPTypes
import Transport

/// One HTTP/2 request stream served by a `Router` (RFC 9113 §8.3 request pseudo-header
/// fields to an `HTTPServerRequest`, the response back as HEADERS and DATA). libnghttp2 has
/// already refused malformed requests (missing or duplicate pseudo-headers, connection
/// fields, a body longer than `content-length`) with RST_STREAM(PROTOCOL_ERROR); what is
/// left to refuse here is what HTTP/1.1's parser refuses too: a header list over the limit
/// (431), a bad target (400), a body over `maxBodyBytes` (413). Loop thread, except the
/// answer of an async handler, which `HTTP2Stream` carries back to the loop.
final class RouterStream: HTTP2StreamReceiver {
    private let stream: HTTP2Stream
    private let router: Router
    private let context: ServerContext
    private let loopState: HTTPLoopState
    private var request: HTTPServerRequest?
    private var isHead = false
    /// Answered (or refused) already: further body bytes are dropped.
    private var answered = false

    init(stream: HTTP2Stream, router: Router, context: ServerContext, loopState: HTTPLoopState) {
        self.stream = stream
        self.router = router
        self.context = context
        self.loopState = loopState
    }

    /// Builds the request from the header block, or refuses it.
    func begin() {
        let method = HTTPRequest.Method(stream.method ?? "") ?? .get
        isHead = method == .head
        guard !stream.headerListTooLarge else { return refuse(.headersTooLarge, method: method) }
        guard var target = stream.path, let decoded = target.withUTF8({ RequestTarget(UnsafeRawBufferPointer($0)) }) else {
            return refuse(.invalidTarget, method: method)
        }
        var fields = HTTPFields()
        fields.reserveCapacity(stream.fields.count)
        for field in stream.fields {
            if field.name == ":authority" {
                if let name = HTTPField.Name("host") { fields.append(HTTPField(name: name, value: field.value)) }
                continue
            }
            guard !field.name.hasPrefix(":"), let name = HTTPField.Name(field.name) else { continue }
            fields.append(HTTPField(name: name, value: field.value))
        }
        request = HTTPServerRequest(
            method: method, target: target, path: decoded.path,
            query: decoded.query.map { (name: $0.name, value: $0.value) }, headerFields: fields,
            version: (2, 0), remoteAddress: stream.remoteAddress, localListener: stream.listenerName,
            tlsPeer: stream.tlsPeer)
    }

    func received(_ bytes: UnsafeRawBufferPointer) {
        guard !answered, request != nil else { return }
        guard (request?.body.count ?? 0) + bytes.count <= context.limits.maxBodyBytes else {
            let method = request?.method ?? .post
            request = nil
            return refuse(.bodyTooLarge, method: method)
        }
        request?.body.append(contentsOf: bytes)
    }

    func receivedEnd() {
        guard !answered, var request else { return }
        self.request = nil
        answered = true
        let recorder = loopState.recorder(of: context, listener: stream.listenerName)
        let reply = Reply(stream: stream, isHead: isHead, recorder: recorder,
                          started: recorder == nil ? nil : EventLoop.now())
        switch loopState.routes(of: router).route(&request) {
        case .handler(.sync(let body)):
            reply.send(body(request), method: request.method, template: request.routeTemplate)
        case .handler(.async(let body)):
            Task { reply.send(await body(request), method: request.method, template: request.routeTemplate) }
        case .handler(.asyncOnLoop(let body)):
            let loop = stream.loop
            Task(executorPreference: loop) {
                let response = await CurrentReactor.$value.withValue(loop) { await body(request) }
                reply.send(response, method: request.method, template: request.routeTemplate)
            }
        case .answer(let response):
            reply.send(response, method: request.method, template: request.routeTemplate)
        }
    }

    func cancelled() {
        answered = true
        request = nil
    }

    private func refuse(_ error: HTTPParseError, method: HTTPRequest.Method) {
        answered = true
        let reply = Reply(stream: stream, isHead: isHead,
                          recorder: loopState.recorder(of: context, listener: stream.listenerName), started: nil)
        reply.send(Problem.response(status: HTTPResponse.Status(code: error.status), type: error.slug,
                                    title: ResponseRenderer.defaultReason(error.status), detail: error.detail),
                   method: method, template: nil)
    }
}

/// What answering one stream needs, from whichever thread the handler finished on.
private struct Reply: Sendable {
    let stream: HTTP2Stream
    let isHead: Bool
    /// The stream's loop's recorder: `deliver` runs on that loop.
    let recorder: (any HTTPRequestRecorder)?
    /// `EventLoop.now()` when the request was complete; nil when nothing records it.
    let started: UInt64?

    /// Sends `response` on the stream's loop: prerendered fields as they are, plus `date`;
    /// no body for HEAD, 204 and 304 (RFC 9110 §6.4.1), `content-length` as for GET.
    func send(_ response: HTTPServerResponse, method: HTTPRequest.Method, template: String?) {
        let code = response.status.code
        let sendBody = !isHead && ResponseRenderer.allowsBody(code)
        let fields: [(name: String, value: String)]
        let body: [UInt8]
        switch response.payload {
        case .prerendered(let prerendered):
            fields = prerendered.http2Fields
            body = sendBody ? prerendered.body : []
        case .dynamic:
            fields = ResponseRenderer.http2Fields(status: response.status, headerFields: response.headerFields,
                                                  contentLength: response.body.count)
            body = sendBody ? response.body : []
        }
        let loop = stream.loop
        let reply = self
        let deliver: @Sendable () -> Void = {
            let date = loop.local { HTTPLoopState() }.currentDateValue()
            reply.stream.respond(status: code, fields: fields + [("date", date)], body: body)
            reply.recorder?.requestCompleted(method: method, routeTemplate: template, status: code,
                                             nanoseconds: reply.started.map { EventLoop.now() &- $0 } ?? 0)
        }
        if loop.inLoop { deliver() } else { loop.execute(deliver) }
    }
}
