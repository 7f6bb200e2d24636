/// Which permission a private method needs (../shared/kraken-api.md §7).
enum PermissionRule: Sendable {
    case none
    /// Every listed permission.
    case all([String])
    /// At least one of the listed permissions.
    case any([String])
    /// QueryOrders: open or closed query permission per order status.
    case perOrderStatus

    func allows(_ granted: [String]) -> Bool {
        switch self {
        case .none, .perOrderStatus: true
        case .all(let p): p.allSatisfy(granted.contains)
        case .any(let p): p.contains(where: granted.contains)
        }
    }
}

/// The private methods the simulator knows, with their permission rules.
enum PrivateMethods {
    static let implemented: Set<String> = [
        "Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades", "ClosedOrders", "QueryOrders", "OpenOrders",
        "WithdrawStatus", "DepositStatus", "Balance", "BalanceEx", "GetApiKeyInfo",
        "AddExport", "ExportStatus", "RetrieveExport", "RemoveExport", "GetWebSocketsToken",
    ]

    /// Trading and funding methods Kraken has but the simulator does not perform (a key with the permission
    /// gets `EAPI:Feature disabled`).
    static let known: [String: String] = [
        "AddOrder": "modify-trades", "AddOrderBatch": "modify-trades", "EditOrder": "modify-trades",
        "AmendOrder": "modify-trades", "CancelOrder": "close-trades", "CancelAll": "close-trades",
        "CancelOrderBatch": "close-trades", "Withdraw": "withdraw-funds", "WithdrawCancel": "withdraw-funds",
        "WithdrawAddresses": "withdraw-funds", "WithdrawInfo": "withdraw-funds", "WithdrawMethods": "withdraw-funds",
        "DepositAddresses": "add-funds", "DepositMethods": "add-funds", "WalletTransfer": "withdraw-funds",
        "GetWebSocketsToken": "create-ws-token", "AddExport": "export-data", "ExportStatus": "export-data",
        "RetrieveExport": "export-data", "RemoveExport": "export-data", "TradeBalance": "query-funds",
        "OpenPositions": "query-open-trades", "QueryLedgersInfo": "query-ledger", "TradeVolume": "query-funds",
    ]

    static func rule(for method: String, strict: Bool) -> PermissionRule {
        switch method {
        case "Ledgers", "QueryLedgers": strict ? .all(["query-ledger", "query-funds"]) : .all(["query-ledger"])
        case "TradesHistory", "QueryTrades":
            strict ? .all(["query-closed-trades", "query-open-trades"]) : .all(["query-closed-trades"])
        case "ClosedOrders": .all(["query-closed-trades"])
        case "OpenOrders": .all(["query-open-trades"])
        case "QueryOrders": .perOrderStatus
        case "Balance", "BalanceEx": .all(["query-funds"])
        case "DepositStatus": strict ? .all(["add-funds"]) : .all(["query-funds"])
        case "WithdrawStatus": strict ? .all(["withdraw-funds"]) : .any(["withdraw-funds", "query-ledger"])
        case "GetApiKeyInfo": .none
        default: known[method].map { .all([$0]) } ?? .none
        }
    }
}
