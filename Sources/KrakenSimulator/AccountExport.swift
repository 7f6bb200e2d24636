import AuditKernel
import KrakenAPI

/// Served rows of one account, in the JSON Kraken would send (for tests comparing a collector's store).
public struct AccountExport: Sendable {
    public let ledger: [(id: String, entry: JSONValue)]
    public let trades: [(id: String, trade: JSONValue)]
    public let orders: [(id: String, order: JSONValue)]
    public let withdrawals: [JSONValue]
    public let deposits: [JSONValue]
    /// `Balance` result.
    public let balance: JSONValue
}
