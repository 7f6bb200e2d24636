import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `URLSession` transport (FoundationNetworking/libcurl on Linux; no extra package, see swift-build-notes.md).
///
/// - **No redirects.** A 3xx is never followed: the redirect would resend every header, `API-Key` and `API-Sign`
///   included, to whatever host the `Location` names (and sidestep the "plain http only to loopback" rule of
///   ``BaseURL``). The task completes with the 3xx response itself, which the client turns into
///   ``KrakenError/redirected(method:status:host:)``. (On Linux FoundationNetworking, answering
///   `willPerformHTTPRedirection` with `nil` does exactly that; checked by `RedirectRefusalTests`.)
/// - **Bounded bodies.** A body is received chunk by chunk through the session delegate: a `Content-Length`
///   over ``TransportRequest/maxResponseBytes`` is refused before any byte, and a body that grows past it is cancelled
///   as soon as it does, so an endless or huge answer costs at most the limit in memory. A request with a
///   ``TransportRequest/responseFile`` streams its body to that file instead, under the file's own limit.
/// - **Cancellation** (SIGINT/SIGTERM during a call) cancels the data task from another queue: cancelling from
///   the Swift task's cancellation handler deadlocks against a response being delivered at that moment
///   (swift-corelibs-foundation#5412, seen as `kraken-audit run` hanging after SIGTERM).
///
/// On Linux, URLSession ignores a request's own `timeoutInterval`; only the session configuration's timeout
/// is honoured. So this keeps one session per timeout value (there are one or two in practice).
public final class URLSessionTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var sessions: [TimeInterval: URLSession] = [:]
    private let delegate = TransportDelegate()

    public init() {}

    deinit {
        // Sessions hold their delegate strongly; let them go once their tasks are done.
        for s in sessions.values { s.finishTasksAndInvalidate() }
    }

    func session(timeout: TimeInterval) -> URLSession {
        lock.withLock {
            if let s = sessions[timeout] { return s }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpCookieAcceptPolicy = .never
            configuration.urlCache = nil
            configuration.timeoutIntervalForRequest = timeout
            configuration.timeoutIntervalForResource = timeout
            let s = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
            sessions[timeout] = s
            return s
        }
    }

    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        var r = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: request.timeout)
        r.httpMethod = request.method
        for (name, value) in request.headers { r.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty { r.httpBody = Data(request.body) }
        if let file = request.responseFile { try file.reset() }
        let session = session(timeout: request.timeout)
        let handle = DataTaskHandle()
        let delegate = self.delegate
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TransportResponse, any Error>) in
                let task = session.dataTask(with: r)
                // Registered before `resume`, so every delegate callback finds the task's state.
                delegate.register(task, Receiving(limit: request.maxResponseBytes, file: request.responseFile, continuation: continuation))
                handle.start(task)
            }
        } onCancel: {
            handle.cancel()
        }
    }
}

/// One task's response as it arrives (touched on the session's serial delegate queue only, and under the
/// delegate's lock for registration).
private final class Receiving {
    let limit: Int
    let file: ResponseFile?
    let continuation: CheckedContinuation<TransportResponse, any Error>
    var body: [UInt8] = []
    var received = 0
    var status = 0
    var location: String?
    /// Set when the transfer was stopped on purpose (over the limit, file write failed).
    var failure: ResponseBodyError?
    /// Whether the continuation was resumed already (at the failure, not at the transfer's end).
    var resumed = false

    init(limit: Int, file: ResponseFile?, continuation: CheckedContinuation<TransportResponse, any Error>) {
        self.limit = limit
        self.file = file
        self.continuation = continuation
    }
}

/// The session delegate: refuses redirects, enforces the size limits, completes the continuation.
private final class TransportDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var tasks: [ObjectIdentifier: Receiving] = [:]

    func register(_ task: URLSessionTask, _ state: Receiving) {
        lock.withLock { tasks[ObjectIdentifier(task)] = state }
    }

    private func state(_ task: URLSessionTask) -> Receiving? {
        lock.withLock { tasks[ObjectIdentifier(task)] }
    }

    /// Cancels from another queue, never from inside a delegate callback or a Swift cancellation handler
    /// (see ``URLSessionTransport``).
    private func stop(_ task: URLSessionTask) {
        DispatchQueue.global().async { task.cancel() }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        // Never follow: the task completes with this 3xx response.
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        guard let s = state(dataTask) else { return completionHandler(.cancel) }
        let http = response as? HTTPURLResponse
        s.status = http?.statusCode ?? 0
        s.location = http?.value(forHTTPHeaderField: "Location")
        let limit = s.file?.maxBytes ?? Int64(s.limit)
        if response.expectedContentLength > limit {
            s.failure = .tooLarge(limit: limit, declared: response.expectedContentLength)
            return completionHandler(.cancel)
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let s = state(dataTask), s.failure == nil else { return }  // chunks after a stop are dropped
        s.received += data.count
        do throws(ResponseBodyError) {
            if let file = s.file {
                try file.append(data)
            } else if s.received > s.limit {
                throw .tooLarge(limit: Int64(s.limit), declared: nil)
            } else {
                s.body.append(contentsOf: data)
            }
        } catch {
            // Answer the caller now; the cancel lands on FoundationNetworking's own queue a little later (on
            // loopback at GB/s the sender may even finish first), and every chunk until then is dropped above.
            s.failure = error
            s.body = []
            s.resumed = true
            s.continuation.resume(throwing: error)
            stop(dataTask)
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard let s = lock.withLock({ tasks.removeValue(forKey: ObjectIdentifier(task)) }), !s.resumed else { return }
        if let failure = s.failure {
            s.continuation.resume(throwing: failure)
        } else if let error {
            s.continuation.resume(throwing: error)
        } else {
            s.continuation.resume(returning: TransportResponse(status: s.status, body: s.body, location: s.location))
        }
    }
}

/// Ties a data task to the Swift task awaiting it; a cancellation may come before the data task exists.
private final class DataTaskHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var cancelled = false

    func start(_ task: URLSessionDataTask) {
        let cancelNow = lock.withLock { () -> Bool in
            self.task = task
            return cancelled
        }
        task.resume()
        if cancelNow { DispatchQueue.global().async { task.cancel() } }
    }

    func cancel() {
        let task = lock.withLock { () -> URLSessionDataTask? in
            cancelled = true
            return self.task
        }
        if let task { DispatchQueue.global().async { task.cancel() } }
    }
}
