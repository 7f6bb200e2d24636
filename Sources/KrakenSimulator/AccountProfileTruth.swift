import AuditKernel
import KrakenAPI

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
