import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Outbound HTTP/1.1 for the cloud backends, over FoundationNetworking's URLSession (no
/// SwiftNIO). Every request has a hard timeout, redirects are refused (a signed request
/// must not be replayed elsewhere), nothing is cached and no cookies are kept.
///
/// With a CA file, HTTPS goes over OpenSSL instead (`SocketHTTPTransport`), trusting that
/// file besides the system's roots: URLSession on Linux cannot be given a CA. A client
/// built for a unix socket or a client certificate sends everything over that transport.
///
/// Thread-safe; share one instance per backend.
public final class HTTPClient: Sendable {
    /// Timeout for a request when the caller gives none.
    public let defaultTimeout: TimeInterval
    /// Responses larger than this are refused.
    public let maxResponseBytes: Int
    private let session: URLSession
    private let customCA: SocketHTTPTransport?
    /// Every request, http and https, goes over `customCA` (unix socket, mutual TLS).
    private let socketOnly: Bool

    /// `caFile`: PEM certificates to trust for HTTPS besides the system's (private
    /// endpoints, sovereign or test clouds); an unreadable or empty file is an error now.
    public convenience init(defaultTimeout: TimeInterval = 10, maxResponseBytes: Int = 4 << 20, caFile: String?) throws {
        self.init(defaultTimeout: defaultTimeout, maxResponseBytes: maxResponseBytes,
                  customCA: try caFile.flatMap { $0.isEmpty ? nil : try SocketHTTPTransport(tls: HTTPClientTLS(caFile: $0)) },
                  socketOnly: false)
    }

    public convenience init(defaultTimeout: TimeInterval = 10, maxResponseBytes: Int = 4 << 20) {
        self.init(defaultTimeout: defaultTimeout, maxResponseBytes: maxResponseBytes, customCA: nil, socketOnly: false)
    }

    /// A client on the project's own sockets for every request: `unixSocket` receives them
    /// all whatever the URL's host (a local control API); `tls` configures https URLs
    /// (extra CAs, a client certificate). Unusable TLS files are an error now.
    public convenience init(defaultTimeout: TimeInterval = 10, maxResponseBytes: Int = 4 << 20, unixSocket: String?,
                            tls: HTTPClientTLS) throws {
        self.init(defaultTimeout: defaultTimeout, maxResponseBytes: maxResponseBytes,
                  customCA: try SocketHTTPTransport(tls: tls, unixSocket: unixSocket), socketOnly: true)
    }

    private init(defaultTimeout: TimeInterval, maxResponseBytes: Int, customCA: SocketHTTPTransport?, socketOnly: Bool) {
        self.defaultTimeout = defaultTimeout
        self.maxResponseBytes = maxResponseBytes
        self.customCA = customCA
        self.socketOnly = socketOnly
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.timeoutIntervalForRequest = defaultTimeout
        configuration.timeoutIntervalForResource = max(defaultTimeout, 60)
        session = URLSession(configuration: configuration, delegate: HTTPClientRedirectRefuser(), delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// Sends `request` and returns the complete response, whatever its status. Throws
    /// `HTTPClientError` when no response arrives within `timeout` seconds.
    public func send(_ request: HTTPClientRequest, timeout: TimeInterval? = nil) async throws -> HTTPClientResponse {
        let seconds = max(0.001, timeout ?? defaultTimeout)
        if let customCA, socketOnly || request.url.scheme == "https" {
            if Task.isCancelled { throw HTTPClientError.cancelled }
            return try await customCA.send(request, timeout: seconds, maxResponseBytes: maxResponseBytes)
        }
        let label = Self.label(request.url)
        var urlRequest = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: seconds)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers {
            if urlRequest.value(forHTTPHeaderField: name) == nil {
                urlRequest.setValue(value, forHTTPHeaderField: name)
            } else {
                urlRequest.addValue(value, forHTTPHeaderField: name)
            }
        }
        if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
        if Task.isCancelled { throw HTTPClientError.cancelled }

        let state = HTTPClientTaskState()
        let limit = maxResponseBytes
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPClientResponse, Error>) in
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    let reason = state.finish()
                    if let error {
                        continuation.resume(throwing: Self.mapError(error, reason: reason, label: label, seconds: seconds))
                        return
                    }
                    guard let http = response as? HTTPURLResponse else {
                        continuation.resume(throwing: HTTPClientError.transport(url: label, reason: "not an HTTP response"))
                        return
                    }
                    let body = data.map { [UInt8]($0) } ?? []
                    guard body.count <= limit else {
                        continuation.resume(throwing: HTTPClientError.responseTooLarge(url: label, limit: limit))
                        return
                    }
                    var headers: [String: String] = [:]
                    for (key, value) in http.allHeaderFields {
                        if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
                    }
                    continuation.resume(returning: HTTPClientResponse(status: http.statusCode, headers: headers, body: body))
                }
                state.start(task)
                // URLSession's timeout on Linux is an idle timeout; this one bounds the whole exchange.
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { state.cancel(.timedOut) }
                task.resume()
            }
        } onCancel: {
            state.cancel(.cancelled)
        }
    }

    private static func mapError(_ error: Error, reason: HTTPClientTaskState.CancelReason?, label: String,
                                 seconds: TimeInterval) -> HTTPClientError {
        switch reason {
        case .timedOut: return .timedOut(url: label, seconds: seconds)
        case .cancelled: return .cancelled
        case nil: break
        }
        if let urlError = error as? URLError, urlError.code == .timedOut { return .timedOut(url: label, seconds: seconds) }
        return .transport(url: label, reason: error.localizedDescription)
    }

    /// The URL without query or user info, safe to put in messages and logs.
    static func label(_ url: URL) -> String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "(url)" }
        components.query = nil
        components.user = nil
        components.password = nil
        components.fragment = nil
        return components.string ?? "(url)"
    }
}

/// Tracks one data task so a timer or task cancellation can stop it, and so the
/// completion handler can tell why it was stopped.
private final class HTTPClientTaskState: @unchecked Sendable {
    enum CancelReason { case timedOut, cancelled }

    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var reason: CancelReason?
    private var finished = false

    func start(_ task: URLSessionDataTask) {
        lock.lock()
        self.task = task
        let early = reason
        lock.unlock()
        if early != nil { task.cancel() }
    }

    func cancel(_ why: CancelReason) {
        lock.lock()
        guard !finished, reason == nil else { lock.unlock(); return }
        reason = why
        let task = self.task
        lock.unlock()
        task?.cancel()
    }

    /// Marks the exchange complete; returns why it was cancelled, if it was.
    func finish() -> CancelReason? {
        lock.lock()
        defer { lock.unlock() }
        finished = true
        task = nil
        return reason
    }
}

/// Refuses every redirect: the response of the redirecting request is returned as is.
private final class HTTPClientRedirectRefuser: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
