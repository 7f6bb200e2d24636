import Foundation

/// Kraken verification tiers and their private-API counter limits (../shared/kraken-api.md §5.1).
public enum Tier: String, Sendable, CaseIterable {
    case starter, intermediate, pro

    /// Maximum counter value.
    public var maxCounter: Double {
        switch self {
        case .starter: 15
        case .intermediate, .pro: 20
        }
    }

    /// Counter decay per second.
    public var decayPerSecond: Double {
        switch self {
        case .starter: 0.33
        case .intermediate: 0.5
        case .pro: 1
        }
    }
}

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
            guard let kind = FaultKind(rawValue: String(t[..<eq])) else { throw .invalidOption("unknown fault kind in '\(t)'; kinds: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))") }
            guard let rate = Double(t[t.index(after: eq)...]), (0...1).contains(rate) else { throw .invalidOption("fault rate in '\(t)' must be a number in 0...1") }
            return FaultRule(kind: kind, rate: rate)
        }
        if let colon = t.firstIndex(of: ":") {
            guard let kind = FaultKind(rawValue: String(t[..<colon])) else { throw .invalidOption("unknown fault kind in '\(t)'") }
            guard let count = Int(t[t.index(after: colon)...]), count > 0 else { throw .invalidOption("fault count in '\(t)' must be a positive integer") }
            return FaultRule(kind: kind, rate: 1, count: count)
        }
        guard let kind = FaultKind(rawValue: t) else { throw .invalidOption("unknown fault kind '\(t)'; kinds: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))") }
        return FaultRule(kind: kind)
    }
}

/// A run-time error injection (the "second client on the same key" and "permission-denied burst" anomalies):
/// after `afterCalls` successful private calls of `account`, its next `count` calls get `error`.
public struct InjectionPlan: Sendable, Equatable {
    public var account: String
    public var error: String
    public var afterCalls: Int
    public var count: Int

    public init(account: String, error: String, afterCalls: Int, count: Int) {
        self.account = account
        self.error = error
        self.afterCalls = afterCalls
        self.count = count
    }

    var rule: AnalyserRule { error.hasPrefix("EAPI:Invalid nonce") ? .nonceErrors : .apiErrorBurst }
    var kind: String { error.hasPrefix("EAPI:Invalid nonce") ? "nonce_errors_second_client" : "permission_denied_burst" }
}

/// Everything that configures a simulator instance. Defaults give a small two-account history.
public struct SimulatorOptions: Sendable {
    /// Listen address (loopback by default) and port (0 = ephemeral).
    public var host = "127.0.0.1"
    public var port = 0
    /// Seed of everything random (history, ids, keys, faults).
    public var seed: UInt64 = 1
    /// Days of history.
    public var days = 120
    /// Number of accounts (`acct1`, `acct2`, ...), each with its own key.
    public var accounts = 2
    /// Approximate number of ledger entries per account.
    public var scale = 3000
    /// History end, unix seconds (nil: the start of the current UTC day, so data is recent; set it for
    /// reproducible data across days).
    public var endSeconds: Int64? = nil
    /// Time zone whose business hours the activity follows.
    public var timeZone = "Europe/Berlin"
    /// Business hours, local minutes after midnight: [start, end).
    public var businessStartMinute = 8 * 60
    public var businessEndMinute = 20 * 60
    /// `Calendar` weekdays (1 = Sunday) with business activity.
    public var businessWeekdays: Set<Int> = [2, 3, 4, 5, 6]
    /// Plant no anomalies (neither in history nor at run time).
    public var clean = false

    /// Rate-limit tier and optional overrides (fast benchmarks, tests).
    public var tier: Tier = .starter
    public var maxCounter: Double? = nil
    public var decayPerSecond: Double? = nil
    /// Counter cost per private method (others cost ``defaultCost``).
    public var costs: [String: Double] = ["Ledgers": 2, "TradesHistory": 2, "QueryLedgers": 2, "QueryTrades": 1]
    public var defaultCost: Double = 1

    /// Permissions of every key (../shared/kraken-api.md §7), unless overridden per account.
    public var permissions: [String] = ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger"]
    public var accountPermissions: [String: [String]] = [:]
    /// Enforce the stricter reading where sources disagree on an endpoint's permission.
    public var strictPermissions = false
    /// Nonce window of every key (0: strictly increasing).
    public var nonceWindow: UInt64 = 0
    /// Per-account OTP (2FA password) a key requires.
    public var otp: [String: String] = [:]
    /// Consecutive failed calls (invalid key, signature or nonce) before `EGeneral:Temporary lockout`.
    public var lockoutThreshold = 5
    /// Lockout length, seconds; a call during the lockout restarts it when ``lockoutExtends``.
    public var lockoutSeconds: Double = 900
    public var lockoutExtends = true

    /// Fault switches active from the start, and the seed of fault decisions.
    public var faults: [FaultRule] = []
    public var faultSeed: UInt64 = 0
    /// Delay of the `slow` fault.
    public var slowSeconds: Double = 35
    /// Jump of the `clock_jump` fault (negative: backwards).
    public var clockJumpSeconds: Double = -3600
    /// Trades added by one `live_inserts` firing.
    public var liveInsertTrades = 3

    /// With `without_count=true`, omit `count` (true) or send `"count":0` (false).
    public var withoutCountOmitsCount = true
    /// Error envelopes carry `"result":{}` (Kraken's errors guide) instead of no `result`.
    public var errorsWithEmptyResult = false

    /// Data exports (Exports.swift): seconds a report stays `Queued`, then `Processing`, before `Processed`.
    public var exportQueuedSeconds: Double = 1
    public var exportProcessingSeconds: Double = 2
    /// A `Processed` report carries this `error` and cannot be retrieved (e.g. `EExport:Exported size too big`).
    public var exportError: String? = nil
    /// Reports disappear from ExportStatus this long after their creation (14 days, §2).
    public var exportExpirySeconds: Int64 = 1_209_600
    /// File layout generation (header, asset and pair naming).
    public var exportHeader: ExportHeaderGeneration = .current
    /// Write an "initiated" row with empty `txid` and `balance` before each deposit, as Kraken's files have.
    public var exportAwkwardRows = true
    /// Header names to write differently (tests of a changed layout), e.g. `["amount": "amt"]`.
    public var exportHeaderRenames: [String: String] = [:]

    /// Run-time injections (nil: the defaults unless ``clean``; empty: none).
    public var injections: [InjectionPlan]? = nil
    /// Where to (re)write the ground-truth JSON.
    public var truthFile: String? = nil
    /// Request log entries kept (oldest dropped).
    public var requestLogLimit = 10_000

    public init() {}

    /// Account names.
    public var accountNames: [String] { (1...max(1, accounts)).map { "acct\($0)" } }

    /// The injections in effect.
    public var effectiveInjections: [InjectionPlan] {
        if let injections { return injections }
        if clean { return [] }
        let names = accountNames
        return [
            InjectionPlan(account: names[0], error: "EAPI:Invalid nonce", afterCalls: 5, count: 3),
            InjectionPlan(account: names[names.count - 1], error: "EGeneral:Permission denied", afterCalls: 8, count: 5),
        ]
    }

    /// Checks ranges and names; the error says what to change.
    public func validate() throws(SimulatorError) {
        guard (1...1000).contains(accounts) else { throw .invalidOption("accounts must be 1...1000") }
        guard (1...3650).contains(days) else { throw .invalidOption("days must be 1...3650") }
        guard (0...50_000_000).contains(scale) else { throw .invalidOption("scale must be 0...50000000") }
        guard TimeZone(identifier: timeZone) != nil else { throw .invalidOption("unknown time zone '\(timeZone)'") }
        guard (0..<1440).contains(businessStartMinute), businessStartMinute < businessEndMinute, businessEndMinute <= 1440
        else { throw .invalidOption("business hours must satisfy 00:00 <= start < end <= 24:00") }
        guard (0...65535).contains(port) else { throw .invalidOption("port must be 0...65535") }
        if let m = maxCounter, m <= 0 { throw .invalidOption("max counter must be positive") }
        if let d = decayPerSecond, d < 0 { throw .invalidOption("decay must be >= 0") }
        guard exportQueuedSeconds >= 0, exportProcessingSeconds >= 0 else { throw .invalidOption("export delays must be >= 0") }
        for name in accountPermissions.keys where !accountNames.contains(name) {
            throw .invalidOption("permissions given for unknown account '\(name)' (accounts: \(accountNames.joined(separator: ", ")))")
        }
    }
}

/// Errors of the simulator library.
public enum SimulatorError: Error, CustomStringConvertible, Equatable {
    /// An option or control request is invalid.
    case invalidOption(String)
    /// The HTTP server could not start (address in use, bad host).
    case serverStart(String)
    /// A file (truth, credentials) could not be written.
    case fileWrite(path: String, reason: String)
    /// An unknown account name was given.
    case unknownAccount(String)

    public var description: String {
        switch self {
        case .invalidOption(let s): "invalid simulator option: \(s)"
        case .serverStart(let s): "the simulator could not start listening: \(s) (pick another --port or --host)"
        case .fileWrite(let path, let reason): "could not write \(path): \(reason)"
        case .unknownAccount(let name): "no simulated account named '\(name)'"
        }
    }
}
