import AuditKernel
import Foundation
import KrakenAPI

/// `POST /_sim/order` `{account, pair?, side?}` (issue 15, red team): a market order of the account's usual size,
/// placed and filled now (the simulated clock, `/_sim/clock`), as someone logged into the account would trade at a
/// chosen minute. `pair` defaults to the first usual pair (XXBTZUSD), `side` to `buy`; funded by a deposit an hour
/// before when the balance is short. Answers `{ordertxid, trade_txid, pair, side, opentm, local_opentm}`. Not part
/// of Kraken's API; loopback only like every `/_sim` endpoint. Nothing is added to the ground truth.
extension SimulatorState {
    /// Handles `POST /_sim/order`; `field` reads a body or query field.
    func orderControl(method: String, field: (String) -> String?) throws(SimulatorError) -> JSONValue {
        guard method == "POST" else { throw .invalidOption("use POST /_sim/order {account, pair?, side?}") }
        guard let account = field("account"), !account.isEmpty else { throw .invalidOption("'account' is required") }
        return try marketOrderNow(account: account, pair: field("pair"), side: field("side"))
    }

    /// Books a filled market order of `pair` (Kraken pair key or altname) now. Returns its ids and times.
    public func marketOrderNow(account: String, pair: String?, side: String?) throws(SimulatorError) -> JSONValue {
        let a = try find(account)
        let pairIndex: Int
        if let pair {
            guard let i = Catalogue.pairs.firstIndex(where: { $0.key == pair || $0.altname == pair }) else {
                throw .invalidOption("unknown pair '\(pair)'")
            }
            pairIndex = i
        } else {
            pairIndex = Catalogue.normalPairs[0]
        }
        let orderSide: Side
        switch side ?? "buy" {
        case "buy": orderSide = .buy
        case "sell": orderSide = .sell
        default: throw .invalidOption("'side' must be buy or sell, not '\(side ?? "")'")
        }
        let info = Catalogue.pairs[pairIndex]
        let start = a.builder.history.ledger.count
        let now = max(nowTicks(), a.builder.lastTime + 1)
        let notional = a.builder.normalNotionalUSD()
        // Fund the order (with a margin for the price) an hour before, as the owner would have.
        let (asset, needed) =
            orderSide == .buy
            ? (
                info.quote,
                Fixed.fromDouble(notional * 1.2 / a.builder.assetUSD[info.quote], decimals: Catalogue.assets[info.quote].decimals)
            )
            : (info.base, Fixed.fromDouble(notional * 1.2 / a.builder.assetUSD[info.base], decimals: Catalogue.assets[info.base].decimals))
        if a.builder.balances[asset] < needed {
            a.builder.deposit(asset: asset, amount: needed - a.builder.balances[asset], time: max(a.builder.lastTime + 1, now - 36_000_000))
        }
        let time = max(now, a.builder.lastTime + 1)
        guard
            let serial = a.builder.filledOrder(
                pair: pairIndex, side: orderSide, notionalUSD: notional, time: time, fills: 1, type: .market),
            let oi = a.builder.history.orderIndex(serial: serial)
        else {
            throw .invalidOption("the account cannot afford the order")
        }
        a.historyChanged(fromLedgerIndex: start)
        let order = a.builder.history.orders[oi]
        return .object([
            ("ordertxid", .string(a.builder.history.orderID(serial))),
            ("trade_txid", .string(a.builder.history.tradeID(order.firstTradeSerial))), ("pair", .string(info.key)),
            ("side", .string(orderSide.name)), ("opentm", .string(Fixed.time(order.opentm))),
            ("local_opentm", .string(TimeFormat.local(ticks: order.opentm, in: timeZone))),
        ])
    }
}
