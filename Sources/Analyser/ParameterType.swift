/// The type of a rule parameter: how a `[rules.<id>]` value is validated and how it is passed to the SQL.
///
/// Every value is checked when the configuration is loaded, so a value the rule's SQL cannot take (out of its
/// integer type, a `timestamp - interval` out of range, a division by zero, a severity the findings CHECK refuses)
/// is a configuration error (exit 78) and never a rule failing at run time.
public enum ParameterType: String, Sendable, CaseIterable {
    /// Whole number from 0 to ``maximumInteger`` (passed as `::integer`; also used as days, hours and minutes
    /// before `now`, which must stay inside PostgreSQL's timestamp range).
    case integer
    /// Whole number from 1 to ``maximumInteger``.
    case positiveInteger = "positive_integer"
    /// Finite number from 0 to ``maximumNumber`` (a factor or threshold; never money).
    case number
    /// Finite number from ``minimumPositiveNumber`` to ``maximumNumber`` (a divisor: `1 / :'min_ratio'`).
    case positiveNumber = "positive_number"
    /// Exact non-negative decimal: ASCII digits with at most one `.` (a string such as "2.5", or a TOML
    /// integer/float written as such), at most ``decimalIntegerDigits`` digits before the point and
    /// ``decimalFractionDigits`` after it.
    case decimal
    case bool
    /// Any string without a NUL character (PostgreSQL text cannot hold one).
    case string
    /// A finding severity (`info`, `low`, `medium`, `high`, `critical`, the values the findings table's CHECK
    /// allows) or `off`.
    case severity
    /// Array of strings, passed as a PostgreSQL `text[]` literal.
    case strings
    /// IANA time zone name, or `account` for the account's own `timezone`.
    case timezone
    /// `"HH:MM-HH:MM"`, start before end.
    case hoursRange = "hours_range"
    /// `"Mon-Fri"`, `"Mon,Wed,Sat-Sun"` or an array of day names; passed as ISO day numbers (Monday = 1).
    case weekdays
    /// Array of dates (`2026-12-25`), passed as a `date[]` literal.
    case dates
    /// Table of asset → array of strings (`{XXBT = ["bc1q..."]}`), passed as JSON.
    case assetStrings = "asset_strings"
    /// Table of asset → exact decimal (`{XXBT = "2.5"}`), passed as JSON with string values.
    case assetDecimals = "asset_decimals"
    /// Table of asset → withdrawal destinations, each a destination address (`"bc1q..."`) or a table
    /// `{ address = "bc1q...", name = "cold-wallet" }` when the address-book name must match too. A bare string
    /// must have an address's shape (``DestinationShape``): an address-book name alone is refused, because whoever
    /// took over the account chooses the names. Passed as JSON `{"XXBT": [{"address": "...", "name": null}]}`.
    case destinations

    /// Largest `integer`/`positive_integer`: inside PostgreSQL's `integer`, and as days before now (about
    /// 2,700 years) still inside its timestamp range.
    public static let maximumInteger = 1_000_000
    /// Largest `number`/`positive_number`.
    public static let maximumNumber = 1_000_000.0
    /// Smallest `positive_number`.
    public static let minimumPositiveNumber = 0.001
    /// Digits a `decimal` may have before its point and after it (amounts; Kraken uses at most 10 decimals).
    public static let decimalIntegerDigits = 20
    public static let decimalFractionDigits = 18

    /// What the type expects, for messages and `kraken-audit rules`.
    public var expectation: String {
        switch self {
        case .integer: return "a whole number from 0 to \(Self.maximumInteger)"
        case .positiveInteger: return "a whole number from 1 to \(Self.maximumInteger)"
        case .number: return "a number from 0 to \(Int(Self.maximumNumber))"
        case .positiveNumber: return "a number from \(Self.minimumPositiveNumber) to \(Int(Self.maximumNumber))"
        case .decimal:
            return
                "a decimal number such as \"2.5\" (ASCII digits and one '.', at most \(Self.decimalIntegerDigits) digits before the point and \(Self.decimalFractionDigits) after it)"
        case .bool: return "true or false"
        case .string: return "a string"
        case .severity: return "one of \(RuleSeverity.allCases.map(\.rawValue).joined(separator: ", "))"
        case .strings: return "an array of strings"
        case .timezone: return "an IANA time zone such as \"Europe/Berlin\" (or \"account\")"
        case .hoursRange: return "a time range such as \"08:00-18:00\""
        case .weekdays: return "days such as \"Mon-Fri\" or [\"Mon\", \"Tue\"]"
        case .dates: return "an array of dates such as [\"2026-12-25\"]"
        case .assetStrings: return "a table of asset = [\"...\"] such as {XXBT = [\"bc1q...\"]}"
        case .assetDecimals: return "a table of asset = \"decimal\" such as {XXBT = \"2.5\"}"
        case .destinations:
            return
                "a table of asset = [destination addresses] such as {XXBT = [\"bc1q...\"]}, an entry may be { address = \"...\", name = \"...\" } when the address-book name must match too"
        }
    }
}
