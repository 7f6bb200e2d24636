import Foundation

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

    /// Permissions of every key (../shared/kraken-api.md §7), unless overridden per account. `create-ws-token` lets
    /// `kraken-audit watch` use the WebSocket v2 endpoint; it is read-only (not a `key_posture` concern).
    public var permissions: [String] = ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "create-ws-token"]
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

    /// Data exports (SimulatorState+Exports.swift): seconds a report stays `Queued`, then `Processing`, before `Processed`.
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
