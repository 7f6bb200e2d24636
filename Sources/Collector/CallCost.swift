/// Kraken's counter cost per private method (../shared/kraken-api.md §5.1: budget 2 for the ledger and trade
/// history calls and their Query* variants, 1 for the rest).
public enum CallCost {
    public static func of(_ method: String) -> Double {
        switch method {
        case "Ledgers", "TradesHistory", "QueryLedgers", "QueryTrades": return 2
        default: return 1
        }
    }
}
