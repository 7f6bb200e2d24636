/// One paged endpoint of Kraken's offset style (../shared/kraken-api.md §4).
struct PagedEndpoint: Sendable {
    let method: String
    let resultKey: String
    let extra: [(String, String)]
    /// Table and time column for the end-of-window count check (our constants).
    let table: String
    let timeColumn: String
    let kind: Kind
    enum Kind { case ledger, trades, orders }

    static let ledgers = PagedEndpoint(
        method: "Ledgers", resultKey: "ledger", extra: [], table: "ledger_entries", timeColumn: "time", kind: .ledger)
    static let trades = PagedEndpoint(
        method: "TradesHistory", resultKey: "trades", extra: [("trades", "false")], table: "trades", timeColumn: "time", kind: .trades)
    static let closedOrders = PagedEndpoint(
        method: "ClosedOrders", resultKey: "closed", extra: [("trades", "true"), ("closetime", "close")], table: "orders",
        timeColumn: "closetm", kind: .orders)
    /// In the order they are collected.
    static let all = [ledgers, trades, closedOrders]
}
