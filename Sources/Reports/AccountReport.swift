/// One account's section of a ``Report``.
public struct AccountReport: Sendable {
    /// The account's name (`[account.<name>]`).
    public var name: String
    /// Collection runs of the period.
    public var collection: CollectionSummary
    /// Findings first or last seen in the period, most severe first.
    public var findings: [FindingItem]
    /// Withdrawals in the period, oldest first.
    public var withdrawals: [FundingItem]
    /// Deposits in the period, oldest first.
    public var deposits: [FundingItem]
    /// Trading per pair in the period.
    public var trading: [PairActivity]
    /// Balance per asset at the period's start and end (assets that stayed at zero are left out).
    public var balances: [BalanceChange]
    /// The tool's own calls to Kraken for this account in the period.
    public var apiUsage: APIUsage
    /// Trading volume (quote cost) per UTC day and pair, for the chart.
    public var volumePerDay: [(day: String, pair: String, cost: String)]

    /// Findings per severity, most severe first (every severity, zero included).
    public var findingsBySeverity: [(String, Int)] {
        ["critical", "high", "medium", "low", "info"].map { s in (s, findings.filter { $0.severity == s }.count) }
    }
}
