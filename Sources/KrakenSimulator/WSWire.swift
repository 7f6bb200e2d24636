import AuditKernel
import Foundation

/// JSON shapes of the WebSocket v2 endpoint (/work/notes/ws-protocol.md, ../shared/kraken-websocket.md): asset and
/// pair names, balances and executions items, acks and errors. Numbers are written from the same fixed-point text
/// REST serves (``Fixed``, ``PrivateEndpoints``), never through `Double`.
enum WSWire {
    /// WebSocket name of an asset and the wallet it sits in: REST altname with `XBT`→`BTC`; an earn asset `X.S`
    /// is `X` in an `earn` wallet (`.S` locked, `.B` bonded, `.F` flexible, `.M` liquid), everything else spot/main.
    static func asset(_ index: Int) -> (asset: String, walletType: String, walletID: String) {
        let altname = Catalogue.assets[index].altname
        let parts = altname.split(separator: ".", maxSplits: 1).map(String.init)
        let base = parts[0] == "XBT" ? "BTC" : parts[0]
        guard parts.count == 2 else { return (base, "spot", "main") }
        let wallet =
            switch parts[1] {
            case "B": "bonded"
            case "F": "flexible"
            case "M": "liquid"
            default: "locked"
            }
        return (base, "earn", wallet)
    }

    /// Pair symbol: REST `wsname` with `XBT`→`BTC` (`BTC/USD`).
    static func symbol(_ pair: PairInfo) -> String {
        pair.wsname.split(separator: "/").map { $0 == "XBT" ? "BTC" : String($0) }.joined(separator: "/")
    }

    /// `category` of a ledger entry on the balances channel.
    static func category(_ type: LedgerType) -> String {
        switch type {
        case .deposit: "deposit"
        case .withdrawal: "withdrawal"
        case .trade: "trade"
        case .staking: "staking-rewards"
        case .transfer, .earn: "credit"
        }
    }

    /// RFC 3339 UTC with microseconds from ticks of 1e-4 s: `2026-01-22T10:17:55.214400Z`.
    static func timestamp(_ ticks: Int64) -> String {
        let seconds = ticks >= 0 ? ticks / 10_000 : (ticks - 9_999) / 10_000
        let frac = ticks - seconds * 10_000
        let whole = TimeFormat.iso(ticks: seconds * 10_000)
        let digits = String(frac)
        return whole.dropLast() + "." + String(repeating: "0", count: 4 - digits.count) + digits + "00Z"
    }

    // MARK: balances

    /// One ledger entry as a balances update item; the values are REST Ledgers' for the same entry.
    static func ledgerItem(_ row: LedgerRow, history: AccountHistory) -> JSONValue {
        let info = Catalogue.assets[Int(row.asset)]
        let (asset, walletType, walletID) = asset(Int(row.asset))
        return .object([
            ("ledger_id", .string(history.ledgerID(row))), ("ref_id", .string(history.refid(row))),
            ("timestamp", .string(timestamp(row.time))), ("type", .string(row.type.name)), ("subtype", .string(row.subtype.name)),
            ("asset", .string(asset)), ("asset_class", .string("currency")), ("category", .string(category(row.type))),
            ("wallet_type", .string(walletType)), ("wallet_id", .string(walletID)),
            ("amount", .number(Fixed.format(row.amount, decimals: info.decimals))),
            ("fee", .number(Fixed.format(row.fee, decimals: info.decimals))),
            ("balance", .number(Fixed.format(row.balance, decimals: info.decimals))),
        ])
    }

    /// The balances snapshot: every asset the account has seen, its wallets (spot, earn) with their balances.
    static func balancesSnapshot(_ account: SimAccount) -> [JSONValue] {
        let balances = account.builder.balances
        var order: [String] = []
        var wallets: [String: [(type: String, id: String, units: Int64, decimals: Int)]] = [:]
        for i in Catalogue.assets.indices where account.assetsSeen.contains(UInt8(i)) {
            let (asset, type, id) = asset(i)
            if wallets[asset] == nil { order.append(asset) }
            wallets[asset, default: []].append((type, id, balances[i], Catalogue.assets[i].decimals))
        }
        return order.map { asset in
            let list = wallets[asset] ?? []
            let decimals = list.map(\.decimals).max() ?? 0
            let total = list.reduce(Int64(0)) { $0 + Fixed.rescale($1.units, from: $1.decimals, to: decimals) }
            return .object([
                ("asset", .string(asset)), ("asset_class", .string("currency")),
                ("balance", .number(Fixed.format(total, decimals: decimals))),
                (
                    "wallets",
                    .array(
                        list.map {
                            .object([
                                ("type", .string($0.type)), ("id", .string($0.id)),
                                ("balance", .number(Fixed.format($0.units, decimals: $0.decimals))),
                            ])
                        })
                ),
            ])
        }
    }

    // MARK: executions

    /// An order's `new` report (placed; also the snapshot form of an open order).
    static func newReport(_ o: OrderRow, history: AccountHistory) -> JSONValue {
        let pair = Catalogue.pairs[Int(o.pair)]
        let limit = o.orderType == .limit ? Fixed.format(o.limitPrice, decimals: pair.pairDecimals) : "0"
        return .object([
            ("exec_type", .string("new")), ("order_status", .string("new")), ("order_id", .string(history.orderID(o.serial))),
            ("symbol", .string(symbol(pair))), ("side", .string(o.side.name)), ("order_type", .string(o.orderType.name)),
            ("order_qty", .number(Fixed.format(o.vol, decimals: pair.lotDecimals))), ("limit_price", .number(limit)),
            ("timestamp", .string(timestamp(o.opentm))), ("order_userref", .number(String(o.userref))),
        ])
    }

    /// A trade report; `last` says whether it is the order's final fill (`filled`) or not (`partially_filled`).
    static func tradeReport(_ t: TradeRow, orderStatus: String, history: AccountHistory) -> JSONValue {
        let pair = Catalogue.pairs[Int(t.pair)]
        return .object([
            ("exec_type", .string("trade")), ("order_status", .string(orderStatus)),
            ("order_id", .string(history.orderID(t.orderSerial))), ("exec_id", .string(history.tradeID(t.serial))),
            ("trade_id", .number(String(t.tradeID))), ("symbol", .string(symbol(pair))), ("side", .string(t.side.name)),
            ("order_type", .string(t.orderType.name)), ("last_qty", .number(Fixed.format(t.vol, decimals: pair.lotDecimals))),
            ("last_price", .number(PrivateEndpoints.price(t.price, pair))),
            ("cost", .number(PrivateEndpoints.quoteAmount(t.cost, pair))), ("liquidity_ind", .string(t.maker ? "m" : "t")),
            (
                "fees",
                .array([
                    .object([
                        ("asset", .string(asset(pair.quote).asset)), ("qty", .number(PrivateEndpoints.quoteAmount(t.fee, pair))),
                    ])
                ])
            ),
            ("timestamp", .string(timestamp(t.time))),
        ])
    }

    /// The report closing an order that ended without (fully) filling: `canceled` or `expired`.
    static func closeReport(_ o: OrderRow, history: AccountHistory) -> JSONValue? {
        switch o.status {
        case .canceled:
            return .object([
                ("exec_type", .string("canceled")), ("order_status", .string("canceled")),
                ("order_id", .string(history.orderID(o.serial))), ("reason", .string("User requested")),
                ("timestamp", .string(timestamp(o.closetm))),
            ])
        case .expired:
            return .object([
                ("exec_type", .string("expired")), ("order_status", .string("expired")),
                ("order_id", .string(history.orderID(o.serial))), ("timestamp", .string(timestamp(o.closetm))),
            ])
        case .open, .closed:
            return nil
        }
    }

    /// `order_status` of a trade report: `filled` for the last fill of a closed order.
    static func tradeOrderStatus(_ t: TradeRow, history: AccountHistory) -> String {
        guard let oi = history.orderIndex(serial: t.orderSerial) else { return "partially_filled" }
        let o = history.orders[oi]
        let last = o.firstTradeSerial + Int64(o.tradeCount) - 1
        return o.status == .closed && t.serial == last ? "filled" : "partially_filled"
    }

    // MARK: envelopes

    static func status(system: String, connectionID: UInt64) -> String {
        JSONValue.object([
            ("channel", .string("status")), ("type", .string("update")),
            (
                "data",
                .array([
                    .object([
                        ("api_version", .string("v2")), ("connection_id", .number(String(connectionID))),
                        ("system", .string(system)), ("version", .string("2.0.0")),
                    ])
                ])
            ),
        ]).jsonText
    }

    static let heartbeat = #"{"channel":"heartbeat"}"#

    static func channelMessage(channel: String, type: String, sequence: Int, data: [JSONValue]) -> String {
        JSONValue.object([
            ("channel", .string(channel)), ("type", .string(type)), ("sequence", .number(String(sequence))), ("data", .array(data)),
        ]).jsonText
    }

    static func withReqID(_ members: [(String, JSONValue)], _ reqID: JSONValue?) -> [(String, JSONValue)] {
        guard let reqID else { return members }
        return members + [("req_id", reqID)]
    }

    static func pong(reqID: JSONValue?, timeIn: String, timeOut: String) -> String {
        JSONValue.object(
            withReqID([("method", .string("pong"))], reqID) + [("time_in", .string(timeIn)), ("time_out", .string(timeOut))]
        ).jsonText
    }

    static func malformed(timeIn: String, timeOut: String) -> String {
        JSONValue.object([
            ("error", .string("Malformed request")), ("method", .string("error")), ("success", .bool(false)),
            ("time_in", .string(timeIn)), ("time_out", .string(timeOut)),
        ]).jsonText
    }

    static func ack(method: String, result: [(String, JSONValue)], reqID: JSONValue?, timeIn: String, timeOut: String) -> String {
        JSONValue.object(
            withReqID([("method", .string(method)), ("result", .object(result)), ("success", .bool(true))], reqID)
                + [("time_in", .string(timeIn)), ("time_out", .string(timeOut))]
        ).jsonText
    }

    static func failure(method: String, channel: String?, error: String, reqID: JSONValue?, timeIn: String, timeOut: String)
        -> String
    {
        var members: [(String, JSONValue)] = []
        if let channel { members.append(("channel", .string(channel))) }
        members += [("error", .string(error)), ("method", .string(method)), ("status", .string("error")), ("success", .bool(false))]
        return JSONValue.object(withReqID(members, reqID) + [("time_in", .string(timeIn)), ("time_out", .string(timeOut))]).jsonText
    }
}
