import Foundation

/// Fault kinds the simulator can inject (each seeded, switchable by flag and control endpoint).
public enum FaultKind: String, Sendable, CaseIterable {
    /// New trades (order + trade + 2 ledger entries) arrive just before a paged call is answered.
    case liveInserts = "live_inserts"
    case http500 = "http_500"
    case http502 = "http_502"
    case http504 = "http_504"
    /// Cloudflare's "520: Web server is returning an unknown error" HTML page.
    case http520 = "http_520"
    case serviceUnavailable = "service_unavailable"
    case serviceBusy = "service_busy"
    /// The response is held back for ``SimulatorOptions/slowSeconds`` (past a client's timeout).
    case slow
    /// The connection is closed (RST) without a response.
    case connectionReset = "connection_reset"
    /// HTTP 200 with the JSON body cut short.
    case truncatedJSON = "truncated_json"
    /// HTTP 200 with a body that is not JSON.
    case malformedJSON = "malformed_json"
    /// The simulator's wall clock jumps by ``SimulatorOptions/clockJumpSeconds``.
    case clockJump = "clock_jump"

    /// Whether the fault replaces the response (after the request was processed: nonce used, counter charged).
    var replacesResponse: Bool {
        switch self {
        case .liveInserts, .clockJump, .slow: false
        default: true
        }
    }
}

/// One fault switch: fires with probability `rate` per eligible request, or on the next `count` eligible
/// requests when `count` is set (then it removes itself).
public struct FaultRule: Sendable, Equatable {
    public var kind: FaultKind
    public var rate: Double
    public var count: Int?
    /// Kraken method names the fault applies to (nil: every `/0/...` request).
    public var methods: Set<String>?

    public init(kind: FaultKind, rate: Double = 1, count: Int? = nil, methods: Set<String>? = nil) {
        self.kind = kind
        self.rate = rate
        self.count = count
        self.methods = methods
    }

    /// Parses `kind=rate` or `kind:count` (e.g. `http_520=0.05`, `connection_reset:2`); `kind` alone means rate 1.
    public static func parse(_ text: String) throws(SimulatorError) -> FaultRule {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let eq = t.firstIndex(of: "=") {
            guard let kind = FaultKind(rawValue: String(t[..<eq])) else {
                throw .invalidOption("unknown fault kind in '\(t)'; kinds: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let rate = Double(t[t.index(after: eq)...]), (0...1).contains(rate) else {
                throw .invalidOption("fault rate in '\(t)' must be a number in 0...1")
            }
            return FaultRule(kind: kind, rate: rate)
        }
        if let colon = t.firstIndex(of: ":") {
            guard let kind = FaultKind(rawValue: String(t[..<colon])) else { throw .invalidOption("unknown fault kind in '\(t)'") }
            guard let count = Int(t[t.index(after: colon)...]), count > 0 else {
                throw .invalidOption("fault count in '\(t)' must be a positive integer")
            }
            return FaultRule(kind: kind, rate: 1, count: count)
        }
        guard let kind = FaultKind(rawValue: t) else {
            throw .invalidOption("unknown fault kind '\(t)'; kinds: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return FaultRule(kind: kind)
    }
}
