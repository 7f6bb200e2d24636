/// Trading in one pair over the period. Sums are exact decimal text.
public struct PairActivity: Sendable {
    /// Kraken's pair name (e.g. `XXBTZUSD`).
    public var pair: String
    /// Number of trades.
    public var trades: Int
    /// Summed volume, in the base asset.
    public var volume: String
    /// Summed cost, in the quote asset.
    public var cost: String
    /// Summed fees, in the quote asset.
    public var fees: String
}
