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

/// One planted anomaly: what was planted, on which entity, and which analyser rule should find it.
public struct PlantedAnomaly: Sendable, Equatable {
    /// Stable id, e.g. `acct1-withdrawal_unknown_address-1`.
    public let id: String
    /// What was planted (e.g. `withdrawal_unknown_address`, `off_hours_trade_dst_spring`).
    public let kind: String
    public let rule: AnalyserRule
    public let account: String
    /// `withdrawal`, `trade`, `order`, `ledger`, `api_key`.
    public let entityType: String
    /// Kraken id of the entity (withdrawal refid, trade txid, order txid, ledger id, key fingerprint).
    public let entityID: String
    /// When it happened, in ticks of 1e-4 s (Kraken's time precision).
    public let timeTicks: Int64
    /// Kind-specific facts (amounts, addresses, local times, related ids).
    public let details: JSONValue

    /// The ground-truth JSON object of this anomaly.
    public var json: JSONValue {
        .object([
            ("id", .string(id)), ("kind", .string(kind)), ("rule", .string(rule.rawValue)),
            ("account", .string(account)), ("entity_type", .string(entityType)), ("entity_id", .string(entityID)),
            ("time", .string(TimeFormat.iso(ticks: timeTicks))), ("unixtime", .number(Fixed.time(timeTicks))),
            ("details", details),
        ])
    }
}

/// A normal (allowlistable) withdrawal destination of an account.
public struct WithdrawalAddress: Sendable, Equatable {
    public let asset: String
    public let address: String
    /// Address-book name (`key` in WithdrawStatus).
    public let key: String
}

/// What "normal" looks like for one account, so an analyser configuration can be derived from it.
public struct AccountProfileTruth: Sendable {
    public let account: String
    public let normalWithdrawalAddresses: [WithdrawalAddress]
    public let tradedPairs: [String]
    public let withdrawnAssets: [String]
    public let typicalNotionalUSD: Double

    var json: JSONValue {
        var byAsset: [(String, JSONValue)] = []
        for w in normalWithdrawalAddresses {
            let entry = JSONValue.object([("address", .string(w.address)), ("key", .string(w.key))])
            if let i = byAsset.firstIndex(where: { $0.0 == w.asset }), case .array(var list) = byAsset[i].1 {
                list.append(entry)
                byAsset[i].1 = .array(list)
            } else {
                byAsset.append((w.asset, .array([entry])))
            }
        }
        return .object([
            ("account", .string(account)),
            ("normal_withdrawal_addresses", .object(byAsset)),
            ("traded_pairs", .array(tradedPairs.map(JSONValue.string))),
            ("withdrawn_assets", .array(withdrawnAssets.map(JSONValue.string))),
            ("typical_trade_notional_usd", .number(String(format2(typicalNotionalUSD)))),
        ])
    }

    private func format2(_ v: Double) -> String { Fixed.format(Int64((v * 100).rounded()), decimals: 2) }
}
