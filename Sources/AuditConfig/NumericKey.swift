/// One numeric key of `kraken-audit.toml`: where it lives, whether it is a whole number, its allowed range and its
/// default. ``all`` is the single list the loader validates against, the README's table is written from and the
/// property test fuzzes, so a key's range is stated exactly once.
///
/// Why ranges at all: TOML accepts `inf`, `nan` and `1e300`, and such a value used to reach Foundation
/// (`URLSessionConfiguration.timeoutIntervalForRequest = inf` trapped inside FoundationNetworking) or an
/// `Int(...)` conversion (`renotify_after_hours = inf` trapped in `alerts`). Every number is now finite and
/// inside a range in which the code that uses it cannot trap.
public struct NumericKey: Sendable, Equatable, CustomStringConvertible {
    /// Whether fractions are allowed.
    public enum Kind: Sendable, Equatable {
        /// A whole number: a TOML integer, or a float without a fraction such as `24.0`.
        case integer
        /// Any finite number in the range (integer or float).
        case number
    }

    /// The table holding the key, as in messages without the array index: `account`, `account.rate_limit`, `alerts`.
    public let table: String
    /// The key's name inside `table`.
    public let name: String
    public let kind: Kind
    /// Allowed values, both ends included.
    public let range: ClosedRange<Double>
    /// The value used when the key is absent, as the README shows it.
    public let defaultText: String
    /// Unit and meaning, for the README.
    public let meaning: String

    /// `account[].timeout_seconds`: the documented path (`[]` marks an array of tables).
    public var description: String {
        let table = self.table.replacingOccurrences(of: "account", with: "account[]")
        return "\(table).\(name)"
    }

    /// The allowed range as text, e.g. `1 to 3600`.
    public var rangeText: String { "\(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))" }

    /// `[[account]] timeout_seconds`: the HTTP request timeout (URLSession traps on a non-finite one).
    public static let accountTimeout = NumericKey(
        table: "account", name: "timeout_seconds", kind: .number, range: 1...3600, defaultText: "30",
        meaning: "seconds one Kraken HTTP request may take")
    /// `[[account]] max_response_mib`: the largest Kraken response body read into memory.
    public static let accountMaxResponse = NumericKey(
        table: "account", name: "max_response_mib", kind: .integer, range: 1...1024, defaultText: "32",
        meaning: "MiB: a larger Kraken API response is refused instead of filling memory")
    /// `[[account]] rate_limit.max`: the call counter's maximum. Kraken's is 15 or 20; the large upper end exists
    /// for the simulator and benchmarks ("counter off").
    public static let rateLimitMax = NumericKey(
        table: "account.rate_limit", name: "max", kind: .number, range: 1...1_000_000_000, defaultText: "the tier's (15 or 20)",
        meaning: "the call counter's maximum")
    /// `[[account]] rate_limit.decay_per_second`: how fast the counter drains. The lower end keeps one call's wait
    /// at a few minutes at most.
    public static let rateLimitDecay = NumericKey(
        table: "account.rate_limit", name: "decay_per_second", kind: .number, range: 0.01...1_000_000_000,
        defaultText: "the tier's (0.33, 0.5 or 1)", meaning: "counter points drained per second")
    /// `[alerts] timeout_seconds`: how long the hook may run.
    public static let alertsTimeout = NumericKey(
        table: "alerts", name: "timeout_seconds", kind: .number, range: 1...3600, defaultText: "30",
        meaning: "seconds the alert hook may run before it is killed")
    /// `[alerts] renotify_after_hours`: a whole number because it becomes `make_interval(hours => n::int)`.
    public static let renotifyAfterHours = NumericKey(
        table: "alerts", name: "renotify_after_hours", kind: .integer, range: 0...8760, defaultText: "24",
        meaning: "hours after which an open finding is announced again (0: never)")

    /// Every numeric key of the configuration (`[rules.*]` parameters are typed by their rule; see
    /// `ParameterType` in the Analyser).
    public static let all: [NumericKey] = [
        accountTimeout, accountMaxResponse, rateLimitMax, rateLimitDecay, alertsTimeout, renotifyAfterHours,
        databaseMaxConnections, maxConcurrentAccounts, watchGroupSeconds,
    ]

    /// Checks `value` read at `path`; returns it unchanged when it is allowed.
    public func validate(_ value: Double, path: String) throws(ConfigError) -> Double {
        let expectation = kind == .integer ? "a whole number" : "a finite number"
        guard value.isFinite else {
            throw .invalidValue(path: path, reason: "must be \(expectation) from \(rangeText), not \(value)")
        }
        if kind == .integer, value.rounded(.towardZero) != value {
            throw .invalidValue(path: path, reason: "must be \(expectation) from \(rangeText), not \(Self.format(value))")
        }
        guard range.contains(value) else {
            throw .invalidValue(path: path, reason: "must be \(expectation) from \(rangeText), not \(Self.format(value))")
        }
        return value
    }

    /// `30`, `0.33`, `1000000000`, `1e+300`: whole numbers without `.0`, others as Swift prints them.
    static func format(_ x: Double) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}
