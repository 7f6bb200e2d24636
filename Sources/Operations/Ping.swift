import Foundation
import KrakenAPI
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Dead-man's switch (`[ops] ping_url`, healthchecks.io style): `<url>/start` when a run starts, `<url>` on
/// success, `<url>/fail` on failure (and `<url>/<exit code>`, which healthchecks also understands). A ping that
/// fails is logged and never fails the run.
public struct Pinger: Sendable {
    let url: String?
    let transport: any HTTPTransport
    let logger: Logger

    public init(url: String?, transport: any HTTPTransport = URLSessionTransport(), logger: Logger) {
        self.url = url
        self.transport = transport
        self.logger = logger
    }

    public func start() async { await ping("/start") }

    public func finish(exitCode: Int32) async {
        await ping(exitCode == 0 ? "" : "/\(exitCode)")
    }

    func ping(_ suffix: String) async {
        guard var base = url, !base.isEmpty else { return }
        while base.hasSuffix("/") { base.removeLast() }
        guard let target = URL(string: base + suffix) else { return }
        do {
            let r = try await transport.send(HTTPRequest(method: "POST", url: target, headers: [("User-Agent", KrakenClient.userAgent)], body: [], timeout: 10))
            if r.status >= 400 { logger.warning("ping failed", metadata: ["status": "\(r.status)"]) }
        } catch {
            logger.warning("ping failed", metadata: ["error": "\(error)"])
        }
    }
}
