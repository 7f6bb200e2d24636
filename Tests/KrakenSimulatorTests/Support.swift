import AuditKernel
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Nonces from a counter (tests own the key, so a plain counter is valid).
actor CounterNonces: NonceSource {
    private var next: UInt64
    init(start: UInt64 = 1_700_000_000_000) { next = start }
    func nextNonce() async throws -> UInt64 {
        next += 1
        return next
    }
}

enum TestSim {
    /// 2026-11-01T00:00:00Z: pinned so histories are reproducible.
    static let end: Int64 = 1_793_491_200

    static var logger: Logger {
        var l = Logger(label: "sim-test")
        l.logLevel = .warning
        return l
    }

    /// Small, fast options: 2 accounts, 60 days, ~400 ledger entries each, no injections, generous counter.
    static func options(_ configure: (inout SimulatorOptions) -> Void = { _ in }) -> SimulatorOptions {
        var o = SimulatorOptions()
        o.endSeconds = end
        o.days = 60
        o.scale = 400
        o.accounts = 2
        o.injections = []
        o.maxCounter = 10_000
        o.decayPerSecond = 0
        configure(&o)
        return o
    }

    static func start(_ configure: (inout SimulatorOptions) -> Void = { _ in }) async throws -> SimulatorServer {
        try await SimulatorServer.start(options(configure), logger: logger)
    }

    /// Runs `body` with a simulator started from ``options(_:)`` and stops it afterwards, awaited, whether `body`
    /// returns or throws (TestSupport's `withSimulator` with this target's options).
    static func with(_ configure: (inout SimulatorOptions) -> Void = { _ in }, _ body: (SimulatorServer) async throws -> Void)
        async throws
    {
        try await withSimulator(options(configure), logger: logger, body)
    }

    static func client(
        _ sim: SimulatorServer, account: Int = 0, secret: String? = nil, apiKey: String? = nil,
        otp: String? = nil, nonces: CounterNonces = CounterNonces(), timeout: TimeInterval = 10
    ) throws -> KrakenClient {
        let a = sim.accounts[account]
        return try KrakenClient(
            baseURL: sim.baseURL.absoluteString,
            credentials: KrakenCredentials(apiKey: apiKey ?? a.apiKey, secret: Secret(secret ?? a.secret), otp: otp.map { Secret($0) }),
            nonces: nonces, transport: URLSessionTransport(), timeout: timeout, logger: logger)
    }

    /// The Kraken error strings of a failed call (empty if it succeeded).
    static func errors(_ body: () async throws -> KrakenResponse) async -> [String] {
        do {
            _ = try await body()
            return []
        } catch let error as KrakenError {
            if case .api(_, let e) = error { return e.map(\.raw) }
            return ["\(error)"]
        } catch {
            return ["\(error)"]
        }
    }
}

/// Plain HTTP, independent of `KrakenClient`.
enum RawHTTP {
    static func send(_ url: URL, method: String = "POST", headers: [String: String] = [:], body: [UInt8] = [], timeout: TimeInterval = 10)
        async throws -> (Int, [UInt8])
    {
        var r = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        r.httpMethod = method
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        if !body.isEmpty { r.httpBody = Data(body) }
        let (data, response) = try await URLSession.shared.data(for: r)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, Array(data))
    }

    /// Signs `body` for `method` with the account's secret (our signer; the curl test proves it independently).
    static func signedPost(
        _ sim: SimulatorServer, account: Int = 0, method: String, nonce: UInt64, body: String,
        contentType: String = "application/x-www-form-urlencoded"
    ) async throws -> JSONValue {
        let a = sim.accounts[account]
        let path = "/0/private/\(method)"
        let signer = try RequestSigner(secret: Secret(a.secret))
        let sig = signer.sign(path: path, nonce: nonce, body: Array(body.utf8))
        let (_, bytes) = try await send(
            sim.baseURL.appendingPathComponent("0/private/\(method)"),
            headers: ["API-Key": a.apiKey, "API-Sign": sig, "Content-Type": contentType], body: Array(body.utf8))
        return try JSONValue.parse(bytes)
    }

    static func control(_ sim: SimulatorServer, _ path: String, method: String = "GET", json: String? = nil) async throws -> JSONValue {
        let (status, bytes) = try await send(
            URL(string: sim.baseURL.absoluteString + path)!, method: method,
            headers: json == nil ? [:] : ["Content-Type": "application/json"], body: Array((json ?? "").utf8))
        #expect(status == 200, "control \(path) answered \(status): \(String(decoding: bytes, as: UTF8.self))")
        return try JSONValue.parse(bytes)
    }
}

extension JSONValue {
    var decimal: Decimal? { stringValue.flatMap { Decimal(string: $0) } }
    var membersCount: Int { objectMembers?.count ?? 0 }
}

/// Polls `condition` until it holds or `seconds` pass (never a fixed sleep).
func eventually(_ seconds: Double = 5, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        await Task.yield()
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
