import Dispatch
import Foundation
import HTTP
import HTTP2
import HTTPTypes
import Transport

/// The benchmark's floor: keycoord's HTTP server with nothing above it, answering GET /keys
/// and GET /.well-known/jwks.json with a pre-rendered body — BODY_FILE's bytes
/// (bench/http/run.sh passes the JWKS that `keycoord serve` answered, and its ETag, so the
/// floor answers the same request with the same bytes and headers), else a fixed JWKS of two
/// EC P-256 keys (554 bytes). HTTP/1.1 and h2c (prior knowledge) on one port, as the public
/// listener. Usage: HTTPBenchServer [ADDRESS [BODY_FILE [ETAG]]] (default 127.0.0.1:8080).
/// Prints the bound address on stdout; SIGINT/SIGTERM shut it down gracefully.
@main
struct BenchServer {
    static let jwks = """
    {
      "keys": [
        {
          "kty": "EC",
          "kid": "c1ef46e5ca38d243aa4e70091cee7ecff81ef83e",
          "use": "sig",
          "alg": "ES256",
          "crv": "P-256",
          "x": "gPPPznba_ao2l3PxyeptRN4OqBCcbHS2nzpyJ2V1-74",
          "y": "0S6Yd28WOfleU1fTFb5rB6gk_KOKCgf6bVqZoFYEodc"
        },
        {
          "kty": "EC",
          "kid": "e324e30276c4d63ce42ac70d9135df1d6ab79c72",
          "use": "sig",
          "alg": "ES256",
          "crv": "P-256",
          "x": "REzzh40JvG17TUjJd1Yd65qnNbU7rIBASKxJHCqOffs",
          "y": "xemwYzcMAWfpkm6eZmjkflVhtrr626FWErUuBrU1-vE"
        }
      ]
    }
    """

    static func main() async {
        let arguments = CommandLine.arguments.dropFirst()
        let addressText = arguments.first ?? "127.0.0.1:8080"
        var body = Array(jwks.utf8)
        if arguments.count > 1 {
            guard let data = FileManager.default.contents(atPath: arguments[arguments.startIndex + 1]) else {
                FileHandle.standardError.write(Data("HTTPBenchServer: cannot read \(arguments[arguments.startIndex + 1])\n".utf8))
                exit(1)
            }
            body = Array(data)
        }
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "public, max-age=300"
        if arguments.count > 2 { fields[.eTag] = arguments[arguments.startIndex + 2] }
        let keys = PrerenderedResponse(status: .ok, headerFields: fields, body: body)
        let router = Router()
        router.add(.get, "/keys", .sync { _ in .prerendered(keys) })
        router.add(.get, "/.well-known/jwks.json", .sync { _ in .prerendered(keys) })

        var limits = ServerLimits()
        limits.maxConnections = 20_000
        limits.shutdownGrace = .seconds(2)
        let server = HTTPServer(limits: limits)
        do {
            let address = try ListenAddress(parsing: addressText)
            let bound = try server.listen(address, name: "public", router: router, http2: HTTP2Limits())
            server.start()
            FileHandle.standardOutput.write(Data("listening on \(bound)\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("HTTPBenchServer: \(error)\n".utf8))
            exit(1)
        }

        let (stop, continuation) = AsyncStream<Void>.makeStream()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            // @Sendable: otherwise the closure inherits main-actor isolation and traps on the
            // global queue.
            source.setEventHandler { @Sendable in continuation.yield() }
            source.resume()
            return source
        }
        for await _ in stop { break }
        await server.shutdown()
        withExtendedLifetime(sources) {}
    }
}
