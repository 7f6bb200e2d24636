/// Anomalies the generator plants into history (runtime ones live in ``SimulatorState``).
enum PlantKind: String, Sendable, CaseIterable {
    case ledgerGap = "ledger_balance_gap"
    case unknownAddressWithdrawal = "withdrawal_unknown_address"
    case amountOutlierWithdrawal = "withdrawal_amount_outlier"
    case newAssetWithdrawal = "withdrawal_new_asset"
    case withdrawalBurst = "withdrawal_burst"
    case offHoursTrade = "off_hours_trade"
    case offHoursOrder = "off_hours_order"
    case dstSpringTrade = "off_hours_trade_dst_spring"
    case dstAutumnTrade = "off_hours_trade_dst_autumn"
    case tradeSizeOutlier = "trade_size_outlier"
    case firstEverPair = "first_ever_pair"
    case repointedAddressWithdrawal = "withdrawal_address_repointed"

    var rule: AnalyserRule {
        switch self {
        case .ledgerGap: .ledgerGap
        case .unknownAddressWithdrawal, .amountOutlierWithdrawal, .newAssetWithdrawal, .withdrawalBurst:
            .unexpectedWithdrawal
        case .offHoursTrade, .offHoursOrder, .dstSpringTrade, .dstAutumnTrade: .offHoursTrading
        case .tradeSizeOutlier: .tradeSizeOutlier
        case .firstEverPair: .newPairOrAsset
        case .repointedAddressWithdrawal: .withdrawalAddressChanged
        }
    }
}
