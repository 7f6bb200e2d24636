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
        // The URL's path or query is usually the check's secret token (healthchecks.io: /ping/<uuid>): only the
        // host is ever logged, and never the error's own text, which for URLError holds the whole URL.
        let host = Self.loggableHost(target)
        do {
            let r = try await transport.send(
                TransportRequest(method: "POST", url: target, headers: [("User-Agent", KrakenClient.userAgent)], body: [], timeout: 10))
            if r.status >= 400 { logger.warning("ping failed", metadata: ["host": "\(host)", "status": "\(r.status)"]) }
        } catch {
            logger.warning("ping failed", metadata: ["host": "\(host)", "error": "\(Self.redactedReason(error))"])
        }
    }

    /// `host` or `host:port` of `url`, nothing else (no user info, path, query or fragment).
    static func loggableHost(_ url: URL) -> String {
        guard let host = url.host, !host.isEmpty else { return "(no host)" }
        let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return url.port.map { "\(shown):\($0)" } ?? shown
    }

    /// Why a ping failed, in words that cannot contain the URL: the URLError code's name (or the error's type
    /// name), never `description`/`localizedDescription`/`userInfo`, which FoundationNetworking fills with
    /// the failing URL.
    static func redactedReason(_ error: any Error) -> String {
        if let e = error as? URLError {
            let names: [URLError.Code: String] = [
                .timedOut: "timed out", .cannotConnectToHost: "cannot connect to host",
                .cannotFindHost: "cannot find host", .dnsLookupFailed: "DNS lookup failed",
                .networkConnectionLost: "network connection lost", .notConnectedToInternet: "not connected to the internet",
                .secureConnectionFailed: "TLS connection failed", .serverCertificateUntrusted: "server certificate untrusted",
                .cancelled: "cancelled", .badServerResponse: "bad server response",
            ]
            return "\(names[e.code] ?? "URLError") (code \(e.code.rawValue))"
        }
        return "\(type(of: error))"
    }
}
