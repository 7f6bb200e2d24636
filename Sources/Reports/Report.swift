import Foundation

/// The nightly report's content, built from the database; renderers turn it into markdown, HTML, JSON, CSV.
/// JSON follows the versioned schema `kraken-audit.report/1` (documented in the README).
public struct Report: Sendable {
    /// The JSON schema's name and version, written into every JSON report.
    public static let schema = "kraken-audit.report/1"

    /// When the report was built.
    public var generatedAt: Date
    /// The time zone every rendered time is shown in (with its UTC offset).
    public var timezone: TimeZone
    /// Start of the reported period (inclusive).
    public var since: Date
    /// End of the reported period (exclusive).
    public var until: Date
    /// One section per account, sorted by name.
    public var accounts: [AccountReport]

    /// Total findings per severity over all accounts.
    var severityTotals: [(String, Int)] {
        ["critical", "high", "medium", "low", "info"].map { s in
            (s, accounts.reduce(0) { $0 + $1.findings.filter { $0.severity == s }.count })
        }
    }
}
