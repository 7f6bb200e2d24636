/// One asset's balance over the period, from the ledger's running balance. Values are exact decimal text.
public struct BalanceChange: Sendable {
    /// Kraken's asset name.
    public var asset: String
    /// Balance just before the period.
    public var start: String
    /// Balance at the period's end.
    public var end: String
    /// Sum of the ledger amounts in the period (trades, deposits, withdrawals, ...).
    public var netFlows: String
    /// Sum of the ledger fees in the period.
    public var fees: String
}
