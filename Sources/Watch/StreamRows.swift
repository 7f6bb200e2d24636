import AuditKernel
import AuditStore
import Collector

/// Turns `balances` and `executions` objects into the collector's rows, in REST's names (asset and pair keys) and
/// with decimals kept as the number text Kraken sent (../shared/kraken-websocket.md §3-4).
public struct StreamRows: Sendable {
    let names: KrakenNames

    public init(names: KrakenNames) { self.names = names }

    /// A `balances` update entry. Throws for an entry without the fields every ledger row needs.
    public func ledgerEntry(_ o: JSONValue) throws(WatchError) -> StreamStore.LedgerEntry {
        let id = try string(o, "ledger_id", "balances")
        let asset = try string(o, "asset", "balances \(id)")
        let walletType = o["wallet_type"]?.stringValue
        let walletId = o["wallet_id"]?.stringValue
        // An asset the name lists do not know is stored as sent: REST's row will correct it and record the difference.
        let restAsset = names.restAsset(asset, walletType: walletType, walletId: walletId) ?? asset
        return StreamStore.LedgerEntry(
            ledgerId: id, refid: o["ref_id"]?.stringValue, time: try time(o, "timestamp", id), type: try string(o, "type", id),
            subtype: o["subtype"]?.stringValue ?? o["sub_type"]?.stringValue ?? "",
            aclass: o["asset_class"]?.stringValue ?? "currency", asset: restAsset,
            amount: try decimal(o, "amount", id), fee: try decimal(o, "fee", id), balance: try decimal(o, "balance", id), raw: o)
    }

    /// An `executions` report of `exec_type` `trade`; nil for every other report (order state changes).
    public func trade(_ o: JSONValue) throws(WatchError) -> StreamStore.Trade? {
        guard o["exec_type"]?.stringValue == "trade" else { return nil }
        let id = try string(o, "exec_id", "executions")
        let symbol = try string(o, "symbol", id)
        var fee = "0"
        if let fees = o["fees"]?.arrayValue {
            // Kraken charges one fee per fill today (quote currency); should a fill carry several, their sum is the fee.
            let texts = try fees.map { (f) throws(WatchError) in try decimal(f, "qty", id).text }
            if texts.count == 1 { fee = texts[0] } else if texts.count > 1 { fee = DecimalSum.sum(texts) ?? texts[0] }
        }
        guard let feeDecimal = ExactDecimal(fee) else { throw .malformed(reason: "executions \(id): fees are not decimal numbers") }
        let maker: Bool?
        switch o["liquidity_ind"]?.stringValue {
        case "m": maker = true
        case "t": maker = false
        default: maker = nil
        }
        return StreamStore.Trade(
            txid: id, ordertxid: o["order_id"]?.stringValue, pair: names.pairs[symbol] ?? symbol, time: try time(o, "timestamp", id),
            type: try string(o, "side", id), ordertype: o["order_type"]?.stringValue, price: try decimal(o, "last_price", id),
            cost: try decimal(o, "cost", id), fee: feeDecimal, vol: try decimal(o, "last_qty", id),
            tradeId: o["trade_id"]?.numberText.flatMap { Int64($0) }, maker: maker, raw: o)
    }

    /// The order state an `executions` report tells (placed, cancelled, expired, filled), in REST's names; nil for a
    /// report that changes no stored state (a partial fill, an amendment, a status echo).
    public func orderEvent(_ o: JSONValue) throws(WatchError) -> StreamStore.OrderEvent? {
        guard let type = o["exec_type"]?.stringValue else { return nil }
        let id = try string(o, "order_id", "executions")
        let time: String? = o["timestamp"] == nil ? nil : try self.time(o, "timestamp", id)
        switch type {
        case "new", "pending_new":
            let symbol = o["symbol"]?.stringValue
            let limit: ExactDecimal? = o["limit_price"] == nil ? nil : try decimal(o, "limit_price", id)
            let quantity: ExactDecimal? = o["order_qty"] == nil ? nil : try decimal(o, "order_qty", id)
            return StreamStore.OrderEvent(
                txid: id, status: type == "new" ? "open" : "pending", pair: symbol.map { names.pairs[$0] ?? $0 },
                type: o["side"]?.stringValue,
                ordertype: o["order_type"]?.stringValue, vol: quantity,
                price: limit.flatMap { $0.normalized == "0" ? nil : $0 },
                userref: o["order_userref"]?.numberText.flatMap { Int64($0) }, opentm: time, raw: o)
        case "canceled", "expired":
            return StreamStore.OrderEvent(txid: id, status: type, closetm: time, reason: o["reason"]?.stringValue, raw: o)
        case "trade", "filled":
            guard o["order_status"]?.stringValue == "filled" else { return nil }
            return StreamStore.OrderEvent(txid: id, status: "closed", closetm: time, raw: o)
        default:
            return nil
        }
    }

    private func string(_ o: JSONValue, _ field: String, _ what: String) throws(WatchError) -> String {
        guard let s = o[field]?.stringValue, !s.isEmpty else { throw .malformed(reason: "\(what): '\(field)' is missing or not a string") }
        return s
    }

    private func decimal(_ o: JSONValue, _ field: String, _ id: String) throws(WatchError) -> ExactDecimal {
        guard let v = o[field] else { throw .malformed(reason: "\(id): '\(field)' is missing") }
        let text: String?
        switch v {
        case .number(let n): text = n
        case .string(let s): text = s
        default: text = nil
        }
        guard let text, text.count <= 200, let d = ExactDecimal(text) else {
            throw .malformed(reason: "\(id): '\(field)' is not a decimal number")
        }
        return d
    }

    /// RFC 3339 text, kept as sent (PostgreSQL reads it exactly, to the microsecond).
    private func time(_ o: JSONValue, _ field: String, _ id: String) throws(WatchError) -> String {
        let t = try string(o, field, id)
        let bytes = Array(t.utf8)
        func digit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 48 && bytes[i] <= 57 }
        let shape =
            bytes.count >= 20 && bytes.count <= 40 && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].allSatisfy(digit)
            && bytes[4] == 45 && bytes[7] == 45 && bytes[10] == 84 && bytes[13] == 58 && bytes[16] == 58
            && (t.hasSuffix("Z") || t.dropFirst(19).contains("+") || t.dropFirst(19).contains("-"))
        guard shape else { throw .malformed(reason: "\(id): '\(field)' '\(t.prefix(40))' is not an RFC 3339 time") }
        return t
    }
}
