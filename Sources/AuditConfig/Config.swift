import Foundation
import KrakenAPI

/// The whole configuration (`kraken-audit.toml`). See the README's config reference.
public struct AuditConfiguration: Sendable {
    /// Path the configuration was read from.
    public var path: String
    public var database: DatabaseConfig
    public var accounts: [AccountConfig]
    public var alerts: AlertsConfig?
    public var ops: OpsConfig
    /// `[rules.<id>]` tables, validated by the analyser against each rule's parameters.
    public var rules: [String: ConfigTable]
    /// `[integrity]`: signed digests of the hash chains (issue 17); nil when the section is absent.
    public var integrity: IntegrityConfig? = nil
    /// `[watch]`: the real-time `watch` service (issue 20).
    public var watch: WatchConfig = WatchConfig()
}

/// `[watch]`.
public struct WatchConfig: Sendable, Equatable {
    /// `group_seconds` (``NumericKey/watchGroupSeconds``, default 0): after a streamed entry arrives, how long `watch`
    /// gathers further arrivals of the account before it analyses them and delivers their alerts in one hook call.
    public var groupSeconds: Double = 0

    public init(groupSeconds: Double = 0) { self.groupSeconds = groupSeconds }
}

/// `[database]`.
public struct DatabaseConfig: Sendable {
    /// `postgresql://` URL or libpq conninfo; nil means libpq's defaults (PG* variables, ~/.pgpass, service files).
    public var url: String?
    /// `max_connections` (``NumericKey/databaseMaxConnections``, default 8): the size of the one connection pool a
    /// process shares between all its accounts (`--db-connections` overrides it). A process opens at most this many
    /// plus one session connection (leases) plus one for the command itself.
    public var maxConnections: Int = 8

    public init(url: String?, maxConnections: Int = 8) {
        self.url = url
        self.maxConnections = maxConnections
    }
}

extension NumericKey {
    /// `[database] max_connections`: the per-process pool size (issue 18).
    public static let databaseMaxConnections = NumericKey(
        table: "database", name: "max_connections", kind: .integer, range: 1...1000, defaultText: "8",
        meaning: "connections the pool of one process opens at most, shared by all accounts (plus 2: session and command)")
    /// `[ops] max_concurrent_accounts`: accounts collected at once by one process (issue 18).
    public static let maxConcurrentAccounts = NumericKey(
        table: "ops", name: "max_concurrent_accounts", kind: .integer, range: 1...100_000, defaultText: "64",
        meaning: "accounts one process collects at once (each waits for its own key's counter; memory grows with this)")
    /// `[watch] group_seconds`: the alert grouping window of `watch` (issue 20).
    public static let watchGroupSeconds = NumericKey(
        table: "watch", name: "group_seconds", kind: .number, range: 0...3600, defaultText: "0",
        meaning: "seconds watch gathers an account's streamed entries before analysing them and alerting once (0: at once)")
}

/// Kraken's call-counter parameters (../shared/kraken-api.md §5.1).
public struct RateLimit: Sendable, Equatable {
    public var max: Double
    public var decayPerSecond: Double

    public init(max: Double, decayPerSecond: Double) {
        self.max = max
        self.decayPerSecond = decayPerSecond
    }
}

/// Verification tier, which fixes the counter's max and decay.
public enum Tier: String, Sendable, CaseIterable {
    case starter, intermediate, pro

    public var rateLimit: RateLimit {
        switch self {
        case .starter: return RateLimit(max: 15, decayPerSecond: 0.33)
        case .intermediate: return RateLimit(max: 20, decayPerSecond: 0.5)
        case .pro: return RateLimit(max: 20, decayPerSecond: 1)
        }
    }
}

/// Where a secret comes from. Resolving it is deferred so `doctor` can report each source's problem.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    case env(String)
    case file(String)
    case command([String])

    public var description: String {
        switch self {
        case .env(let v): return "environment variable \(v)"
        case .file(let p): return "file \(p)"
        case .command(let c): return "command \(c.first ?? "")"
        }
    }
}

/// How a first collection fetches the history before "now" (issue 10).
public enum BackfillMode: String, Sendable, CaseIterable {
    /// One asynchronous data export per report (ledgers, trades), imported when ready; paging only from the seam.
    case export
    /// Page `Ledgers`/`TradesHistory`/`ClosedOrders` through the whole history.
    case paging
}

/// One `[[account]]`.
public struct AccountConfig: Sendable {
    public var name: String
    public var apiKey: SecretSource
    public var apiSecret: SecretSource
    public var otp: SecretSource?
    public var apiURL: String
    public var tier: Tier
    public var rateLimit: RateLimit
    /// `key_created` as `YYYY-MM-DD`, for the rotation rule.
    public var keyCreated: String?
    /// Request timeout in seconds (``NumericKey/accountTimeout``: 1 to 3600).
    public var timeoutSeconds: Double
    /// The largest Kraken API response body accepted, in bytes: `max_response_mib` (1 to 1024, default 32) × 2²⁰.
    public var maxResponseBytes: Int = 32 << 20
    /// IANA time zone of the account's business (off-hours rules, daily baselines); defaults to `[ops] timezone`.
    public var timezone: String
    /// `backfill = "export" | "paging"`; nil = export when the key has the Export-data permission, else paging.
    public var backfill: BackfillMode? = nil
    /// `ws_url`: Kraken's authenticated WebSocket v2 endpoint for `watch` (issue 20); `ws://` only to loopback.
    public var webSocketURL: String = AccountConfig.defaultWebSocketURL

    /// Kraken's private WebSocket v2 endpoint (../shared/kraken-websocket.md §2).
    public static let defaultWebSocketURL = "wss://ws-auth.kraken.com/v2"
}

/// `[alerts]`.
public struct AlertsConfig: Sendable {
    public var hook: String
    public var minSeverity: String
    /// Seconds the hook may run (``NumericKey/alertsTimeout``: 1 to 3600).
    public var timeoutSeconds: Double
    /// Hours before an open finding is announced again, 0 = never (``NumericKey/renotifyAfterHours``: a whole
    /// number from 0 to 8760).
    public var renotifyAfterHours: Double
    public var notifyResolved: Bool

    public init(
        hook: String, minSeverity: String = "medium", timeoutSeconds: Double = 30, renotifyAfterHours: Double = 24,
        notifyResolved: Bool = false
    ) {
        self.hook = hook
        self.minSeverity = minSeverity
        self.timeoutSeconds = timeoutSeconds
        self.renotifyAfterHours = renotifyAfterHours
        self.notifyResolved = notifyResolved
    }
}

/// `[integrity]`: where the signing key and the digest files are, the optional hook, and how often `run` verifies
/// every chain in full.
public struct IntegrityConfig: Sendable, Equatable {
    /// `signing_key_file`: the Ed25519 private key (PEM, mode 0600) that signs digests (`kraken-audit keygen`).
    public var signingKeyFile: String
    /// `digest_dir`: where digest files are written (one per seal, dated subdirectories).
    public var digestDir: String
    /// `hook`: an executable (absolute path) run with each new digest file's path as its only argument.
    public var hook: String?
    /// `verify_full_every_days` (``NumericKey/verifyFullEveryDays``: a whole number from 1 to 3650, default 7):
    /// how often `run` verifies every chain in full instead of only what it appended.
    public var verifyFullEveryDays: Int

    public init(signingKeyFile: String, digestDir: String, hook: String? = nil, verifyFullEveryDays: Int = 7) {
        self.signingKeyFile = signingKeyFile
        self.digestDir = digestDir
        self.hook = hook
        self.verifyFullEveryDays = verifyFullEveryDays
    }
}

extension NumericKey {
    /// `[integrity] verify_full_every_days`: days between full verifications during `run`.
    public static let verifyFullEveryDays = NumericKey(
        table: "integrity", name: "verify_full_every_days", kind: .integer, range: 1...3650, defaultText: "7",
        meaning: "days between two full verifications of every chain by `run` (the others check only what they appended)")
}

/// `[ops]`.
public struct OpsConfig: Sendable {
    public var pingURL: String?
    /// IANA timezone for reports and business hours.
    public var timezone: String
    /// `max_concurrent_accounts` (``NumericKey/maxConcurrentAccounts``, default 64).
    public var maxConcurrentAccounts: Int = 64

    public init(pingURL: String?, timezone: String, maxConcurrentAccounts: Int = 64) {
        self.pingURL = pingURL
        self.timezone = timezone
        self.maxConcurrentAccounts = maxConcurrentAccounts
    }
}

/// A plain TOML table kept for a later consumer (rule parameters).
public struct ConfigTable: Sendable {
    public var path: String
    public var values: [String: ConfigValue]
}

/// A TOML value in a form that is `Sendable` and easy to validate later.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case date(String)
    case array([ConfigValue])
    case table([String: ConfigValue])
}
