import AuditKernel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import KrakenAPI
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import UnixSignals

/// Request context that keeps the channel, so a fault can close the connection without a response.
struct SimRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Hands every request to ``SimulatorState`` and turns its answer into HTTP (or a reset).
struct SimResponder: HTTPResponder {
    typealias Context = SimRequestContext
    let state: SimulatorState
    let stopping: StopFlag

    func respond(to request: Request, context: SimRequestContext) async throws -> Response {
        if ControlAccess.isControlPath(request.uri.path), !ControlAccess.isLoopback(ip: context.channel.remoteAddress?.ipAddress) {
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            return Response(status: .forbidden, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: ControlAccess.refusal)))
        }
        var request = request
        let buffer = try await request.collectBody(upTo: 16 * 1024 * 1024)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let target = request.uri.path
        let sim = SimHTTPRequest(
            method: request.method.rawValue, path: target, query: request.uri.query ?? "", headers: headers,
            body: Array(buffer.readableBytesView))
        let answer = await state.handle(sim)
        switch answer {
        case .respond(let status, let contentType, let body, let delay):
            await pause(delay)
            var fields = HTTPFields()
            fields[.contentType] = contentType
            return Response(
                status: HTTPResponse.Status(code: status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        case .reset(let delay):
            await pause(delay)
            // SO_LINGER 0: the close sends a TCP RST, as a dropped upstream connection does.
            if let provider = context.channel as? any SocketOptionProvider {
                try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
            try? await context.channel.close().get()
            throw ConnectionResetOnPurpose()
        }
    }

    /// Holds a response back (the `slow` fault) in small steps, ending early when the server stops.
    private func pause(_ seconds: Double) async {
        guard seconds > 0 else { return }
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline, !stopping.isSet, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Thrown after closing a connection for the `connection_reset` fault (Hummingbird then writes nothing).
struct ConnectionResetOnPurpose: Error {}

/// A flag set once when the server stops.
final class StopFlag: Sendable {
    private let flag = NIOLockedValueBox(false)
    var isSet: Bool { flag.withLockedValue { $0 } }
    func set() { flag.withLockedValue { $0 = true } }
}

/// A running simulator: the HTTP server (on loopback unless ``SimulatorOptions/host`` says otherwise; the
/// `/_sim/*` control API answers loopback peers only, see ``ControlAccess``) plus its ``SimulatorState``.
///
/// ```swift
/// var options = SimulatorOptions()
/// options.endSeconds = 1_767_225_600   // pin the history
/// let sim = try await SimulatorServer.start(options, logger: logger)
/// let key = sim.accounts[0].apiKey, secret = sim.accounts[0].secret
/// // ... call sim.baseURL with KrakenClient ...
/// let truth = await sim.state.anomalies
/// let counter = try await sim.state.counter(account: "acct1")
/// await sim.stop()
/// ```
public final class SimulatorServer: Sendable {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    public let baseURL: URL
    /// The WebSocket v2 endpoint on the same port: `ws://127.0.0.1:<port>/v2` (WebSocketSession.swift).
    public var webSocketURL: URL {
        var parts = URLComponents(url: baseURL, resolvingAgainstBaseURL: false)
        parts?.scheme = "ws"
        parts?.path = "/v2"
        return parts?.url ?? baseURL
    }
    public let port: Int
    /// Accounts and their credentials (as generated for the seed).
    public let accounts: [SimulatedAccount]
    /// The state: controls, truth, counters, request log (the same as the `/_sim/...` endpoints).
    public let state: SimulatorState
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let stopping: StopFlag

    private init(
        baseURL: URL, port: Int, accounts: [SimulatedAccount], state: SimulatorState, group: ServiceGroup, task: Task<Void, any Error>,
        stopping: StopFlag
    ) {
        self.baseURL = baseURL
        self.port = port
        self.accounts = accounts
        self.state = state
        self.group = group
        self.task = task
        self.stopping = stopping
    }

    /// Generates the history and starts listening; returns once the port is bound.
    ///
    /// - Parameter shutdownSignals: signals that stop the server gracefully (the executable passes SIGINT and
    ///   SIGTERM; tests pass none and call ``stop()``).
    public static func start(_ options: SimulatorOptions, logger: Logger, shutdownSignals: [UnixSignal] = []) async throws(SimulatorError)
        -> SimulatorServer
    {
        let state = try SimulatorState(options: options, logger: logger)
        await state.writeTruthFile()
        let stopping = StopFlag()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let serverLogger = logger
        let app = Application(
            responder: SimResponder(state: state, stopping: stopping),
            // HTTP/1 with a WebSocket upgrade at /v2; every other request reaches SimResponder as before. No
            // protocol-level auto ping: liveness is the application's heartbeat/ping, as on Kraken.
            server: .http1WebSocketUpgrade(
                configuration: .init(http1: .init(), ws: .init(autoPing: .disabled)),
                shouldUpgrade: WebSocketSession.shouldUpgrade(state: state)),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "kraken-simulator"),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: serverLogger)
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: shutdownSignals, logger: serverLogger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var bound: Int? = nil
        for await p in ports { bound = p }
        guard let port = bound, port > 0 else {
            let reason: String
            switch await task.result {
            case .failure(let error): reason = String(describing: error)
            case .success: reason = "the server stopped before listening"
            }
            throw .serverStart(reason)
        }
        if !ControlAccess.isLoopbackListenAddress(options.host) {
            logger.warning(
                "kraken-simulator listens on a non-loopback address: other machines can reach its Kraken endpoints; /_sim control requests from them are refused",
                metadata: ["host": "\(options.host)"])
        }
        let host = options.host.contains(":") ? "[\(options.host)]" : options.host
        guard let url = URL(string: "http://\(host):\(port)") else { throw .serverStart("bad host '\(options.host)'") }
        logger.info("kraken-simulator listening", metadata: ["url": "\(url.absoluteString)"])
        return SimulatorServer(
            baseURL: url, port: port, accounts: await state.simulatedAccounts, state: state, group: group, task: task,
            stopping: stopping)
    }

    /// Every planted anomaly so far.
    public var truth: [PlantedAnomaly] { get async { await state.anomalies } }

    /// The ground-truth document.
    public var truthDocument: JSONValue { get async { await state.truthDocument() } }

    /// Stops the server (slow responses in flight end early) and waits until it has stopped.
    public func stop() async {
        stopping.set()
        // Open WebSocket connections would hold the graceful shutdown until the watchdog fires.
        state.wsHub.drop(account: nil)
        await group.triggerGracefulShutdown()
        let task = self.task
        let watchdog = Task {
            try await Task.sleep(for: .seconds(3))
            task.cancel()
        }
        _ = await task.result
        watchdog.cancel()
    }

    /// Waits until the server stops (a shutdown signal or ``stop()``); rethrows a server failure.
    public func waitUntilStopped() async throws {
        defer { stopping.set() }
        try await task.value
    }
}
