#if canImport(Glibc)
import Glibc
#endif
import EventIO
import Foundation
import Testing
import TestSupport
@testable import HTTP
@testable import Transport

/// `.asyncOnLoop` handlers: they run as tasks on their connection's event loop, wait for
/// foreign sockets through the loop (`CurrentReactor`), answer in request order with the
/// other handler kinds, and still complete after the loop has stopped.
@Suite(.serialized)
struct EventLoopExecutorTests {
    @Test func handlerWaitsOnASocketWithoutLeavingTheLoopThread() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                for index in 0..<5 {
                    try client.send(HTTPServerTests.get("/on-loop?ms=20&i=n\(index)"))
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.bodyText == "readable=true same-thread=true data=n\(index)")
                }
            }
        }
    }

    @Test func pipelinedRequestsOfEveryHandlerKindAnswerInOrder() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                // The first on-loop request waits longest, so later ones finish before it.
                try client.send(HTTPServerTests.get("/on-loop?ms=80&i=a") + HTTPServerTests.get("/slow?ms=10&i=b")
                                + HTTPServerTests.get("/on-loop?ms=1&i=c") + HTTPServerTests.get("/hello"))
                #expect(try client.readResponse().bodyText == "readable=true same-thread=true data=a")
                #expect(try client.readResponse().bodyText == "slow b")
                #expect(try client.readResponse().bodyText == "readable=true same-thread=true data=c")
                #expect(try client.readResponse().bodyText == "hello")
            }
        }
    }

    @Test func manyConnectionsWaitingAtOnceAreAllWoken() async throws {
        try await TestServer.run { _, address in
            try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        try await blocking {
                            let client = try RawHTTPClient(address)
                            try client.send(HTTPServerTests.get("/on-loop?ms=30&i=c\(index)"))
                            return try client.readResponse().bodyText
                        }
                    }
                }
                var bodies: Set<String> = []
                for try await body in group { bodies.insert(body) }
                #expect(bodies == Set((0..<40).map { "readable=true same-thread=true data=c\($0)" }))
            }
        }
    }

    @Test func aStoppedLoopRefusesWatchesAndStillRunsTasks() async throws {
        try await TestServer.run { _, address in
            try await blocking {
                let client = try RawHTTPClient(address)
                try client.send(HTTPServerTests.get("/on-loop?ms=1&i=x"))
                #expect(try client.readResponse().status == 200)
            }
        }
        let reactor = try #require(lastReactor.withLock { $0 })
        let loop = try #require(reactor as? EventLoop)
        let finished = loop.finished.load(ordering: .acquiring)
        #expect(finished)
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        // Nobody watches any more: the caller is told at once instead of waiting forever.
        #expect(await reactor.readable(pair[0]) == false)
        // A task preferring the stopped loop runs on Dispatch instead of being lost.
        let value = await Task(executorPreference: loop) { () async -> Int in
            await Task.yield()
            return 42
        }.value
        #expect(value == 42)
    }
}
