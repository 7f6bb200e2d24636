import Foundation

/// One withdrawal or deposit (`audit.withdrawals`, `audit.deposits`). Amounts are exact decimal text.
public struct FundingItem: Sendable {
    /// Kraken's reference id.
    public var refid: String
    /// When Kraken recorded it.
    public var time: Date
    /// Kraken's asset name (e.g. `XXBT`).
    public var asset: String
    /// The amount, exact decimal text.
    public var amount: String
    /// The fee, exact decimal text, when Kraken gave one.
    public var fee: String?
    /// Destination/source address (`info`).
    public var address: String?
    /// Address-book name (`key`), withdrawals only.
    public var addressName: String?
    /// Kraken's status (`Success`, `Pending`, ...).
    public var status: String
    /// Kraken's funding method name, if given.
    public var method: String?
}
