import AuditKernel
import Foundation
import KrakenAPI

/// A Kraken error string answered in the envelope (HTTP 200).
struct EndpointError: Error, Sendable {
    let message: String
    init(_ message: String) { self.message = message }
    static func invalid(_ parameter: String) -> EndpointError { EndpointError("EGeneral:Invalid arguments:\(parameter)") }
}

/// Request parameters (form fields or JSON members, as strings).
struct Params: Sendable {
    var values: [(String, String)]

    subscript(_ name: String) -> String? { values.first { $0.0 == name }?.1 }

    func bool(_ name: String, default value: Bool) throws(EndpointError) -> Bool {
        guard let text = self[name] else { return value }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0", "": return false
        default: throw .invalid(name)
        }
    }

    func int(_ name: String, default value: Int) throws(EndpointError) -> Int {
        guard let text = self[name], !text.isEmpty else { return value }
        guard let v = Int(text), v >= 0 else { throw .invalid(name) }
        return v
    }

    func list(_ name: String) -> [String]? {
        guard let text = self[name], !text.isEmpty else { return nil }
        return text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// The private endpoints over one account's history (../shared/kraken-api.md §3, §4).
struct PrivateEndpoints {
    static let pageSize = 50
    var account: SimAccount
    let withoutCountOmitsCount: Bool
    var history: AccountHistory { account.builder.history }

    // MARK: Paging

    typealias Key = (Int64, Int64)
    static func greater(_ a: Key, _ b: Key) -> Bool { a.0 > b.0 || (a.0 == b.0 && a.1 > b.1) }

    /// First index in [0, count) whose key is greater than `bound` (keys ascending).
    static func firstGreater(count: Int, key: (Int) -> Key, than bound: Key) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if greater(key(mid), bound) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// Parses `start`/`end`: unix seconds (fractions allowed) or an id resolved by `lookup` to its sort key.
    static func bound(_ params: Params, _ name: String, lookup: (String) -> Key?) throws(EndpointError) -> Key? {
        guard let text = params[name], !text.isEmpty else { return nil }
        if let ticks = Fixed.parseTicks(text) { return (ticks, Int64.max) }
        guard let key = lookup(text) else { throw .invalid(name) }
        return key
    }

    /// Newest-first page of rows `lo..<hi` (ascending keys) that pass `matches`: (indices, total count).
    static func page(lo: Int, hi: Int, ofs: Int, matches: ((Int) -> Bool)?) -> ([Int], Int) {
        guard hi > lo else { return ([], 0) }
        var out: [Int] = []
        guard let matches else {
            var i = hi - 1 - ofs
            while i >= lo, out.count < pageSize { out.append(i); i -= 1 }
            return (out, hi - lo)
        }
        var count = 0
        var i = hi - 1
        while i >= lo {
            if matches(i) {
                if count >= ofs, out.count < pageSize { out.append(i) }
                count += 1
            }
            i -= 1
        }
        return (out, count)
    }

    private func withCount(_ members: [(String, JSONValue)], count: Int, without: Bool) -> JSONValue {
        var m = members
        if !without { m.append(("count", .number(String(count)))) } else if !withoutCountOmitsCount { m.append(("count", .number("0"))) }
        return .object(m)
    }

    // MARK: Ledgers

    func ledgerJSON(_ row: LedgerRow) -> JSONValue {
        let asset = Catalogue.assets[Int(row.asset)]
        return .object([
            ("refid", .string(history.refid(row))), ("time", .number(Fixed.time(row.time))),
            ("type", .string(row.type.name)), ("subtype", .string(row.subtype.name)), ("aclass", .string("currency")),
            ("asset", .string(asset.key)), ("amount", .string(Fixed.format(row.amount, decimals: asset.decimals))),
            ("fee", .string(Fixed.format(row.fee, decimals: asset.decimals))),
            ("balance", .string(Fixed.format(row.balance, decimals: asset.decimals))),
        ])
    }

    func assetFilter(_ params: Params) throws(EndpointError) -> Set<UInt8>? {
        guard let names = params.list("asset"), !(names.count == 1 && names[0].lowercased() == "all") else { return nil }
        var set = Set<UInt8>()
        for n in names {
            guard let i = Catalogue.assetIndex(n) else { throw EndpointError("EQuery:Unknown asset") }
            set.insert(UInt8(i))
        }
        return set
    }

    func ledgers(_ params: Params) throws(EndpointError) -> JSONValue {
        let h = history
        let assets = try assetFilter(params)
        var types: Set<String>? = nil
        if let t = params.list("type"), !(t.count == 1 && t[0] == "all") { types = Set(t) }
        if let aclass = params["aclass"], !aclass.isEmpty, aclass != "currency" { types = [] }
        let key: (Int) -> Key = { (h.ledger[$0].time, h.ledger[$0].serial) }
        let lookup: (String) -> Key? = { id in h.ledgerIndex(id: id).map(key) }
        let start = try Self.bound(params, "start", lookup: lookup)
        let end = try Self.bound(params, "end", lookup: lookup)
        let ofs = try params.int("ofs", default: 0)
        let without = try params.bool("without_count", default: false)
        let lo = start.map { Self.firstGreater(count: h.ledger.count, key: key, than: $0) } ?? 0
        let hi = end.map { Self.firstGreater(count: h.ledger.count, key: key, than: $0) } ?? h.ledger.count
        var matches: ((Int) -> Bool)? = nil
        if assets != nil || types != nil {
            matches = { i in
                let r = h.ledger[i]
                return (assets?.contains(r.asset) ?? true) && (types?.contains(r.type.name) ?? true)
            }
        }
        let (rows, count) = Self.page(lo: lo, hi: hi, ofs: ofs, matches: matches)
        let map = rows.map { (h.ledgerID(h.ledger[$0]), ledgerJSON(h.ledger[$0])) }
        return withCount([("ledger", .object(map))], count: count, without: without)
    }

    static func idList(_ params: Params, _ name: String, max: Int) throws(EndpointError) -> [String] {
        guard let ids = params.list(name), !ids.isEmpty else { throw .invalid(name) }
        guard ids.count <= max else { throw EndpointError("EGeneral:Invalid arguments") }
        return ids
    }

    func queryLedgers(_ params: Params) throws(EndpointError) -> JSONValue {
        let ids = try Self.idList(params, "id", max: 20)
        let h = history
        let found = ids.compactMap { h.ledgerIndex(id: $0) }.sorted(by: >)
        guard !found.isEmpty else { throw EndpointError("EGeneral:Invalid arguments:id") }
        return .object(found.map { (h.ledgerID(h.ledger[$0]), ledgerJSON(h.ledger[$0])) })
    }

    // MARK: Trades

    static func price(_ units: Int64, _ pair: PairInfo) -> String {
        Fixed.format(Fixed.rescale(units, from: pair.pairDecimals, to: max(pair.pairDecimals, 5)), decimals: max(pair.pairDecimals, 5))
    }

    static func quoteAmount(_ units: Int64, _ pair: PairInfo) -> String {
        let qd = Catalogue.assets[pair.quote].decimals
        return Fixed.format(Fixed.rescale(units, from: qd, to: max(qd, pair.costDecimals)), decimals: max(qd, pair.costDecimals))
    }

    func tradeJSON(_ t: TradeRow, ledgers: Bool) -> JSONValue {
        let pair = Catalogue.pairs[Int(t.pair)]
        var m: [(String, JSONValue)] = [
            ("ordertxid", .string(history.orderID(t.orderSerial))), ("postxid", .string("TKH2SE-M7IF5-CFI7LT")),
            ("pair", .string(pair.key)), ("time", .number(Fixed.time(t.time))), ("type", .string(t.side.name)),
            ("ordertype", .string(t.orderType.name)), ("price", .string(Self.price(t.price, pair))),
            ("cost", .string(Self.quoteAmount(t.cost, pair))), ("fee", .string(Self.quoteAmount(t.fee, pair))),
            ("vol", .string(Fixed.format(t.vol, decimals: pair.lotDecimals))),
            ("margin", .string(Self.quoteAmount(0, pair))), ("leverage", .string("0")), ("misc", .string("")),
            ("trade_id", .number(String(t.tradeID))), ("maker", .bool(t.maker)),
        ]
        if ledgers {
            m.append(("ledgers", .array([t.ledgerSerial + 1, t.ledgerSerial].map { .string(history.ledgerIDs.format($0)) })))
        }
        return .object(m)
    }

    func tradesHistory(_ params: Params) throws(EndpointError) -> JSONValue {
        let h = history
        let type = params["type"] ?? "all"
        guard ["all", "any position", "closed position", "closing position", "no position"].contains(type) else {
            throw .invalid("type")
        }
        let key: (Int) -> Key = { (h.trades[$0].time, h.trades[$0].serial) }
        let lookup: (String) -> Key? = { id in h.tradeIndex(id: id).map(key) }
        let start = try Self.bound(params, "start", lookup: lookup)
        let end = try Self.bound(params, "end", lookup: lookup)
        let ofs = try params.int("ofs", default: 0)
        let withLedgers = try params.bool("ledgers", default: false)
        _ = try params.bool("trades", default: false)
        _ = try params.bool("consolidate_taker", default: true)
        let without = try params.bool("without_count", default: false)
        var lo = start.map { Self.firstGreater(count: h.trades.count, key: key, than: $0) } ?? 0
        var hi = end.map { Self.firstGreater(count: h.trades.count, key: key, than: $0) } ?? h.trades.count
        if type == "any position" || type == "closed position" || type == "closing position" { lo = 0; hi = 0 }
        let (rows, count) = Self.page(lo: lo, hi: hi, ofs: ofs, matches: nil)
        let map = rows.map { (h.tradeID(h.trades[$0].serial), tradeJSON(h.trades[$0], ledgers: withLedgers)) }
        return withCount([("trades", .object(map))], count: count, without: without)
    }

    func queryTrades(_ params: Params) throws(EndpointError) -> JSONValue {
        let ids = try Self.idList(params, "txid", max: 20)
        let h = history
        let found = ids.compactMap { h.tradeIndex(id: $0) }.sorted(by: >)
        guard !found.isEmpty else { throw EndpointError("EGeneral:Invalid arguments:txid") }
        return .object(found.map { (h.tradeID(h.trades[$0].serial), tradeJSON(h.trades[$0], ledgers: false)) })
    }

    // MARK: Orders

    func orderJSON(_ o: OrderRow, trades: Bool) -> JSONValue {
        let pair = Catalogue.pairs[Int(o.pair)]
        let lot = pair.lotDecimals
        let limit = o.orderType == .limit ? Fixed.format(o.limitPrice, decimals: pair.pairDecimals) : "0"
        let volText = Fixed.format(o.vol, decimals: lot)
        let orderText = "\(o.side.name) \(volText) \(pair.altname) @ \(o.orderType == .limit ? "limit \(limit)" : "market")"
        let qd = Catalogue.assets[pair.quote].decimals
        let avg = o.volExec > 0 ? Fixed.mulDiv(o.cost, Fixed.pow10[pair.pairDecimals + lot - qd], o.volExec) : 0
        var m: [(String, JSONValue)] = [
            ("refid", .null), ("userref", .number(String(o.userref))), ("cl_ord_id", .null),
            ("status", .string(o.status.name)),
            ("reason", o.status == .canceled ? .string("User requested") : .null),
            ("opentm", .number(Fixed.time(o.opentm))),
        ]
        if o.status != .open { m.append(("closetm", .number(Fixed.time(o.closetm)))) }
        m.append(contentsOf: [
            ("starttm", .number("0")), ("expiretm", .number(o.expiretm == 0 ? "0" : Fixed.time(o.expiretm))),
            (
                "descr",
                .object([
                    ("pair", .string(pair.altname)), ("type", .string(o.side.name)), ("ordertype", .string(o.orderType.name)),
                    ("price", .string(limit)), ("price2", .string("0")), ("leverage", .string("none")),
                    ("order", .string(orderText)), ("close", .string("")),
                ])
            ),
            ("vol", .string(volText)), ("vol_exec", .string(Fixed.format(o.volExec, decimals: lot))),
            ("cost", .string(Self.quoteAmount(o.cost, pair))), ("fee", .string(Self.quoteAmount(o.fee, pair))),
            ("price", .string(Self.price(avg, pair))), ("stopprice", .string("0.00000")),
            ("limitprice", .string("0.00000")), ("misc", .string("")), ("oflags", .string("fciq")),
        ])
        if trades, o.tradeCount > 0 {
            let ids = (0..<Int64(o.tradeCount)).map { JSONValue.string(history.tradeID(o.firstTradeSerial + $0)) }
            m.append(("trades", .array(ids)))
        }
        return .object(m)
    }

    func closedOrders(_ params: Params) throws(EndpointError) -> JSONValue {
        let h = history
        let closetime = params["closetime"] ?? "both"
        guard ["open", "close", "both"].contains(closetime) else { throw .invalid("closetime") }
        let withTrades = try params.bool("trades", default: false)
        let ofs = try params.int("ofs", default: 0)
        let without = try params.bool("without_count", default: false)
        _ = try params.bool("consolidate_taker", default: true)
        var userref: Int32? = nil
        if let u = params["userref"], !u.isEmpty {
            guard let v = Int32(u) else { throw .invalid("userref") }
            userref = v
        }
        let clOrdID = params["cl_ord_id"].flatMap { $0.isEmpty ? nil : $0 }
        // An order txid bound means "that order's opentm" (../shared/kraken-api.md §3.5).
        let lookup: (String) -> Key? = { id in h.orderIndex(id: id).map { (h.orders[$0].opentm, h.orders[$0].serial) } }
        let startKey = try Self.bound(params, "start", lookup: lookup)
        let endKey = try Self.bound(params, "end", lookup: lookup)
        let rows: [Int]
        let count: Int
        func basic(_ o: OrderRow) -> Bool {
            o.status != .open && (userref.map { o.userref == $0 } ?? true) && clOrdID == nil
        }
        if closetime == "open" {
            let key: (Int) -> Key = { (h.orders[$0].opentm, h.orders[$0].serial) }
            let lo = startKey.map { Self.firstGreater(count: h.orders.count, key: key, than: $0) } ?? 0
            let hi = endKey.map { Self.firstGreater(count: h.orders.count, key: key, than: $0) } ?? h.orders.count
            (rows, count) = Self.page(lo: lo, hi: hi, ofs: ofs) { basic(h.orders[$0]) }
        } else {
            let index = account.closeIndex()
            let s = startKey.map { ($0.0, Int64.max) }
            let e = endKey.map { ($0.0, Int64.max) }
            func inRange(_ t: Int64) -> Bool { (s.map { t > $0.0 } ?? true) && (e.map { t <= $0.0 } ?? true) }
            let (positions, n) = Self.page(lo: 0, hi: index.count, ofs: ofs) { p in
                let o = h.orders[Int(index[p])]
                guard basic(o) else { return false }
                return closetime == "close" ? inRange(o.closetm) : (inRange(o.closetm) || inRange(o.opentm))
            }
            rows = positions.map { Int(index[$0]) }
            count = n
        }
        let map = rows.map { (h.orderID(h.orders[$0].serial), orderJSON(h.orders[$0], trades: withTrades)) }
        return withCount([("closed", .object(map))], count: count, without: without)
    }

    func openOrders(_ params: Params) throws(EndpointError) -> JSONValue {
        let h = history
        let withTrades = try params.bool("trades", default: false)
        let userref = params["userref"].flatMap { $0.isEmpty ? nil : Int32($0) }
        let map = h.orders.indices.reversed().filter { i in
            h.orders[i].status == .open && (userref.map { u in h.orders[i].userref == u } ?? true)
        }.map { (h.orderID(h.orders[$0].serial), orderJSON(h.orders[$0], trades: withTrades)) }
        return .object([("open", .object(map))])
    }

    /// QueryOrders: the orders, or the permission the caller lacks for one of them.
    func queryOrders(_ params: Params, permissions: [String]) throws(EndpointError) -> JSONValue {
        let ids = try Self.idList(params, "txid", max: 50)
        let withTrades = try params.bool("trades", default: false)
        let h = history
        let found = ids.compactMap { h.orderIndex(id: $0) }
        guard !found.isEmpty else { throw EndpointError("EOrder:Invalid order") }
        for i in found {
            let needed = h.orders[i].status == .open ? "query-open-trades" : "query-closed-trades"
            guard permissions.contains(needed) else { throw EndpointError("EGeneral:Permission denied") }
        }
        return .object(found.map { (h.orderID(h.orders[$0].serial), orderJSON(h.orders[$0], trades: withTrades)) })
    }

    // MARK: Funding

    func fundingJSON(_ f: FundingRow) -> JSONValue {
        let asset = Catalogue.assets[Int(f.asset)]
        var m: [(String, JSONValue)] = [("method", .string(f.method))]
        if f.isWithdrawal { m.append(("network", .string(f.network))) }
        m.append(contentsOf: [
            ("aclass", .string("currency")), ("asset", .string(asset.key)), ("refid", .string(f.refid)),
            ("txid", .string(f.txid)), ("info", .string(f.info)),
            ("amount", .string(Fixed.format(f.amount, decimals: asset.decimals))),
            ("fee", .string(Fixed.format(f.fee, decimals: asset.decimals))), ("time", .number(String(f.time / 10_000))),
            ("status", .string(f.status)),
        ])
        if f.isWithdrawal { m.append(("key", .string(f.key))) }
        return .object(m)
    }

    func fundingStatus(_ params: Params, withdrawals: Bool) throws(EndpointError) -> JSONValue {
        let h = history
        var asset: UInt8? = nil
        if let a = params["asset"], !a.isEmpty {
            guard let i = Catalogue.assetIndex(a) else {
                throw EndpointError(withdrawals ? "EFunding:Unknown asset" : "EFunding:Unknown asset")
            }
            asset = UInt8(i)
        }
        let method = params["method"].flatMap { $0.isEmpty ? nil : $0 }
        var start: Int64? = nil
        var end: Int64? = nil
        if let s = params["start"], !s.isEmpty { guard let v = Fixed.parseTicks(s) else { throw .invalid("start") }; start = v }
        if let e = params["end"], !e.isEmpty { guard let v = Fixed.parseTicks(e) else { throw .invalid("end") }; end = v }
        let limit = try params.int("limit", default: withdrawals ? 500 : 25)
        guard limit > 0 else { throw .invalid("limit") }
        func matches(_ f: FundingRow) -> Bool {
            f.isWithdrawal == withdrawals && (asset.map { f.asset == $0 } ?? true) && (method.map { f.method == $0 } ?? true)
                && (start.map { f.time / 10_000 * 10_000 >= $0 } ?? true) && (end.map { f.time / 10_000 * 10_000 <= $0 } ?? true)
        }
        let cursor = params["cursor"] ?? "false"
        if cursor.lowercased() == "false" || cursor.isEmpty {
            return .array(h.fundings.indices.reversed().filter { matches(h.fundings[$0]) }.map { fundingJSON(h.fundings[$0]) })
        }
        // Cursor mode: the cursor names the index below which the next page starts (stable under new rows).
        var below = h.fundings.count
        if cursor.lowercased() != "true" {
            guard let decoded = Self.decodeCursor(cursor), decoded <= h.fundings.count else { throw .invalid("cursor") }
            below = decoded
        }
        var items: [JSONValue] = []
        var i = below - 1
        var next: Int? = nil
        while i >= 0 {
            if matches(h.fundings[i]) {
                if items.count == limit { next = i + 1; break }
                items.append(fundingJSON(h.fundings[i]))
            }
            i -= 1
        }
        var m: [(String, JSONValue)] = [(withdrawals ? "withdrawals" : "deposits", .array(items))]
        if let next { m.append(("next_cursor", .string(Self.encodeCursor(next)))) }
        return .object(m)
    }

    static func encodeCursor(_ index: Int) -> String {
        Data("c1:\(index)".utf8).base64EncodedString()
    }

    static func decodeCursor(_ text: String) -> Int? {
        guard let data = Data(base64Encoded: text), let s = String(data: data, encoding: .utf8), s.hasPrefix("c1:") else { return nil }
        return Int(s.dropFirst(3))
    }

    // MARK: Balances

    func balance() -> JSONValue {
        let b = account.builder.balances
        let present = account.assetsSeen
        return .object(
            Catalogue.assets.indices.filter { present.contains(UInt8($0)) }.map { i in
                (Catalogue.assets[i].key, .string(Fixed.format(b[i], decimals: Catalogue.assets[i].decimals)))
            })
    }

    func balanceEx() -> JSONValue {
        let b = account.builder.balances
        var hold = [Int64](repeating: 0, count: Catalogue.assets.count)
        for o in history.orders where o.status == .open {
            let pair = Catalogue.pairs[Int(o.pair)]
            if o.side == .buy {
                let qd = Catalogue.assets[pair.quote].decimals
                hold[pair.quote] += Fixed.mulDiv(o.limitPrice, o.vol, Fixed.pow10[pair.pairDecimals + pair.lotDecimals - qd])
            } else {
                hold[pair.base] += Fixed.rescale(o.vol, from: pair.lotDecimals, to: Catalogue.assets[pair.base].decimals)
            }
        }
        return .object(
            Catalogue.assets.indices.filter { account.assetsSeen.contains(UInt8($0)) }.map { i in
                let d = Catalogue.assets[i].decimals
                return (
                    Catalogue.assets[i].key,
                    .object([
                        ("balance", .string(Fixed.format(b[i], decimals: d))), ("hold_trade", .string(Fixed.format(hold[i], decimals: d))),
                    ])
                )
            })
    }
}
