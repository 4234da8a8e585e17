import EventIO
import Foundation
import HTTPTypes
import Synchronization
@testable import HTTP
@testable import Transport

/// Runs an `HTTPServer` on an ephemeral loopback port with a fixed set of routes for the
/// socket tests, and shuts it down afterwards.
enum TestServer {
    static let keysBody = Array(#"{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":"AA","y":"AA"}]}"#.utf8)

    static func router() -> Router {
        let router = Router()
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let keys = PrerenderedResponse(status: .ok, headerFields: fields, body: keysBody)
        router.add(.get, "/keys", .sync { _ in .prerendered(keys) })
        router.add(.get, "/hello", .sync { _ in HTTPServerResponse(status: .ok, body: Array("hello".utf8)) })
        router.add(.get, "/echo", .sync { request in
            HTTPServerResponse(status: .ok, body: Array("echo \(request.queryValue("i") ?? "")".utf8))
        })
        router.add(.post, "/echo", .sync { request in
            HTTPServerResponse(status: .ok, body: request.body)
        })
        router.add(.get, "/slow", .async { request in
            let milliseconds = Int(request.queryValue("ms") ?? "0") ?? 0
            try? await Task.sleep(for: .milliseconds(milliseconds))
            return HTTPServerResponse(status: .ok, body: Array("slow \(request.queryValue("i") ?? "")".utf8))
        })
        // On the connection's loop: waits for a socket the loop watches (a socketpair written
        // from another thread after `ms`), and reports whether the handler stayed on one
        // thread across the wait and what it read.
        router.add(.get, "/on-loop", .asyncOnLoop { request in
            let milliseconds = Int(request.queryValue("ms") ?? "0") ?? 0
            let before = pthread_self()
            guard let reactor = CurrentReactor.value else {
                return HTTPServerResponse(status: .internalServerError, body: Array("no reactor".utf8))
            }
            var pair: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
                return HTTPServerResponse(status: .internalServerError)
            }
            defer { close(pair[0]); close(pair[1]) }
            let writer = pair[1]
            let message = request.queryValue("i") ?? "x"
            Thread.detachNewThread {
                usleep(UInt32(milliseconds) * 1000)
                _ = message.withCString { write(writer, $0, strlen($0)) }
            }
            let woken = await reactor.readable(pair[0])
            let sameThread = pthread_equal(before, pthread_self()) != 0
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = read(pair[0], &buffer, buffer.count)
            let text = "readable=\(woken) same-thread=\(sameThread) data=\(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self))"
            return HTTPServerResponse(status: .ok, body: Array(text.utf8))
        })
        router.add(.get, "/v1/keys/{kid}", .sync { request in
            let text = "\(request.routeTemplate ?? "") \(request.pathParameters["kid"] ?? "") \(request.localListener)"
            return HTTPServerResponse(status: .ok, body: Array(text.utf8))
        })
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 32 << 20)
        router.add(.get, "/big", .sync { _ in HTTPServerResponse(status: .ok, body: big) })
        router.add(.delete, "/v1/keys/{kid}", .sync { _ in HTTPServerResponse(status: .noContent) })
        return router
    }

    static func run(limits: ServerLimits = ServerLimits(), observer: (any HTTPServerObserver)? = nil,
                    address: ListenAddress = .tcp(host: "127.0.0.1", port: 0),
                    _ body: (HTTPServer, ListenAddress) async throws -> Void) async throws {
        let server = HTTPServer(limits: limits, observer: observer)
        let bound = try server.listen(address, name: "public", router: router())
        server.start()
        do {
            try await body(server, bound)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }
}

/// Counts observer calls, for assertions.
final class CountingObserver: HTTPServerObserver {
    struct Counts {
        var completed: [(status: Int, template: String?)] = []
        var opened = 0
        var closed = 0
        var rejected: [String] = []
    }

    let counts = Mutex(Counts())

    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {
        counts.withLock { $0.completed.append((status, routeTemplate)) }
    }
    func connectionOpened(listener: String) { counts.withLock { $0.opened += 1 } }
    func connectionClosed(listener: String) { counts.withLock { $0.closed += 1 } }
    func connectionRejected(listener: String, reason: String) { counts.withLock { $0.rejected.append(reason) } }
}

/// An observer with a recorder per loop and listener, recording which threads call each.
final class RecorderObserver: HTTPServerObserver {
    final class Recorder: HTTPRequestRecorder {
        struct Reports {
            var templates: [String?] = []
            var threads: Set<UInt> = []
        }

        let listener: String
        let reports = Mutex(Reports())

        init(listener: String) { self.listener = listener }

        func requestCompleted(method: HTTPRequest.Method, routeTemplate: String?, status: Int, nanoseconds: UInt64) {
            reports.withLock {
                $0.templates.append(routeTemplate)
                $0.threads.insert(UInt(pthread_self()))
            }
        }
    }

    let recorders = Mutex<[Recorder]>([])
    /// Reports that came through `requestCompleted(listener:…)` instead of a recorder.
    let forwarded = Mutex(0)

    func requestRecorder(listener: String) -> any HTTPRequestRecorder {
        let recorder = Recorder(listener: listener)
        recorders.withLock { $0.append(recorder) }
        return recorder
    }

    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {
        forwarded.withLock { $0 += 1 }
    }
    func connectionOpened(listener: String) {}
    func connectionClosed(listener: String) {}
    func connectionRejected(listener: String, reason: String) {}
}
