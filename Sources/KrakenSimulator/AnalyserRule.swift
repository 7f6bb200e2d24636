import KrakenAPI

/// Analyser rule ids a planted anomaly is meant to trigger.
public enum AnalyserRule: String, Sendable, CaseIterable {
    case unexpectedWithdrawal = "unexpected_withdrawal"
    case nonceErrors = "nonce_errors"
    case offHoursTrading = "off_hours_trading"
    case apiErrorBurst = "api_error_burst"
    case ledgerGap = "ledger_gap"
    case tradeSizeOutlier = "trade_size_outlier"
    case newPairOrAsset = "new_pair_or_asset"
    case withdrawalAddressChanged = "withdrawal_address_changed"
    case keyPosture = "key_posture"
}
