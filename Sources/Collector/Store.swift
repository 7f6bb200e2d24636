import AuditKernel
import AuditStore
import Foundation
import KrakenAPI

/// Counts of what an upsert did.
public struct UpsertCount: Sendable, Equatable {
    public var inserted = 0
    public var updated = 0
    public init(inserted: Int = 0, updated: Int = 0) {
        self.inserted = inserted
        self.updated = updated
    }
    static func + (a: UpsertCount, b: UpsertCount) -> UpsertCount {
        UpsertCount(inserted: a.inserted + b.inserted, updated: a.updated + b.updated)
    }
}

/// The collector's writes. Each batch goes through a temporary staging table (`COPY`), then one
/// `INSERT ... ON CONFLICT` by natural key (account + Kraken id), so a re-run never duplicates and a changed
/// entity is updated (and its earlier state kept in `audit.status_history`).
enum CollectStore {
    static func prepare(_ db: PGConnection) throws(PGError) {
        try db.executeScript(
            """
            CREATE TEMP TABLE IF NOT EXISTS stage_ledger (ledger_id text, refid text, time timestamptz, type text,
                subtype text, aclass text, asset text, amount numeric, fee numeric, balance numeric, raw jsonb)
                ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS stage_trades (txid text, ordertxid text, postxid text, pair text,
                time timestamptz, type text, ordertype text, price numeric, cost numeric, fee numeric, vol numeric,
                margin numeric, leverage text, misc text, trade_id bigint, maker boolean, ledgers text[],
                posstatus text, raw jsonb) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS stage_orders (txid text, refid text, userref bigint, cl_ord_id text,
                status text, reason text, opentm timestamptz, closetm timestamptz, starttm timestamptz,
                expiretm timestamptz, descr_pair text, descr_type text, descr_ordertype text, descr_price numeric,
                descr_price2 numeric, descr_leverage text, descr_order text, descr_close text, vol numeric,
                vol_exec numeric, cost numeric, fee numeric, price numeric, stopprice numeric, limitprice numeric,
                trigger text, misc text, oflags text, trades text[], raw jsonb) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS stage_funding (refid text, method text, network text, aclass text,
                asset text, txid text, info text, amount numeric, fee numeric, time timestamptz, status text,
                status_prop text, key text, originators jsonb, raw jsonb) ON COMMIT DELETE ROWS;
            """)
    }

    static func counts(_ r: PGResult) throws(PGError) -> UpsertCount {
        guard let row = r.rows.first else { return UpsertCount() }
        return UpsertCount(inserted: try row.decode(0, as: Int.self), updated: try row.decode(1, as: Int.self))
    }

    // MARK: ledger

    static func ledgerRows(_ items: [(String, JSONValue)], endpoint: String) throws(CollectError) -> [[(any PGEncodable)?]] {
        var rows: [[(any PGEncodable)?]] = []
        rows.reserveCapacity(items.count)
        for (id, obj) in items {
            let r = try RowReader(endpoint: endpoint, id: id, object: obj)
            rows.append([
                id, try r.optionalString("refid"), try r.time("time"), try r.string("type"),
                try r.optionalString("subtype") ?? "", try r.optionalString("aclass") ?? "currency", try r.string("asset"),
                try r.decimal("amount"), try r.decimal("fee"), try r.decimal("balance"), r.raw,
            ])
        }
        return rows
    }

    static func upsertLedger(_ db: PGConnection, accountId: Int, rows: [[(any PGEncodable)?]]) throws(PGError) -> UpsertCount {
        guard !rows.isEmpty else { return UpsertCount() }
        try db.copyIn("stage_ledger", rows: rows)
        try db.execute(Reconcile.ledgerFromAPI, [accountId])  // ids an export gave first: compare, keep the export row
        return try counts(
            db.query(
                """
                WITH up AS (
                    INSERT INTO audit.ledger_entries AS t (account_id, ledger_id, refid, time, type, subtype, aclass,
                        asset, amount, fee, balance, raw)
                    SELECT $1, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance, raw FROM stage_ledger
                    ON CONFLICT (account_id, ledger_id) DO UPDATE SET refid = EXCLUDED.refid, time = EXCLUDED.time,
                        type = EXCLUDED.type, subtype = EXCLUDED.subtype, aclass = EXCLUDED.aclass,
                        asset = EXCLUDED.asset, amount = EXCLUDED.amount, fee = EXCLUDED.fee,
                        balance = EXCLUDED.balance, raw = EXCLUDED.raw, updated_at = now()
                    WHERE t.source = 'api' AND t.raw IS DISTINCT FROM EXCLUDED.raw
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
                """, [accountId]))
    }

    // MARK: trades

    static func tradeRows(_ items: [(String, JSONValue)], endpoint: String) throws(CollectError) -> [[(any PGEncodable)?]] {
        var rows: [[(any PGEncodable)?]] = []
        rows.reserveCapacity(items.count)
        for (id, obj) in items {
            let r = try RowReader(endpoint: endpoint, id: id, object: obj)
            rows.append([
                id, try r.optionalString("ordertxid"), try r.optionalString("postxid"), try r.string("pair"),
                try r.time("time"), try r.string("type"), try r.optionalString("ordertype"), try r.decimal("price"),
                try r.decimal("cost"), try r.decimal("fee"), try r.decimal("vol"), try r.optionalDecimal("margin"),
                try r.optionalString("leverage"), try r.optionalString("misc"), try r.optionalInteger("trade_id"),
                try r.optionalBool("maker"), try r.optionalStringArray("ledgers"), try r.optionalString("posstatus"),
                r.raw,
            ])
        }
        return rows
    }

    static func upsertTrades(_ db: PGConnection, accountId: Int, rows: [[(any PGEncodable)?]]) throws(PGError) -> UpsertCount {
        guard !rows.isEmpty else { return UpsertCount() }
        try db.copyIn("stage_trades", rows: rows)
        try db.execute(Reconcile.tradesFromAPI, [accountId])
        return try counts(
            db.query(
                """
                WITH up AS (
                    INSERT INTO audit.trades AS t (account_id, txid, ordertxid, postxid, pair, time, type, ordertype,
                        price, cost, fee, vol, margin, leverage, misc, trade_id, maker, ledgers, posstatus, raw)
                    SELECT $1, txid, ordertxid, postxid, pair, time, type, ordertype, price, cost, fee, vol, margin,
                        leverage, misc, trade_id, maker, ledgers, posstatus, raw FROM stage_trades
                    ON CONFLICT (account_id, txid) DO UPDATE SET ordertxid = EXCLUDED.ordertxid,
                        postxid = EXCLUDED.postxid, pair = EXCLUDED.pair, time = EXCLUDED.time, type = EXCLUDED.type,
                        ordertype = EXCLUDED.ordertype, price = EXCLUDED.price, cost = EXCLUDED.cost,
                        fee = EXCLUDED.fee, vol = EXCLUDED.vol, margin = EXCLUDED.margin,
                        leverage = EXCLUDED.leverage, misc = EXCLUDED.misc, trade_id = EXCLUDED.trade_id,
                        maker = EXCLUDED.maker, ledgers = COALESCE(EXCLUDED.ledgers, t.ledgers),
                        posstatus = EXCLUDED.posstatus, raw = EXCLUDED.raw, updated_at = now()
                    WHERE t.source = 'api' AND t.raw IS DISTINCT FROM EXCLUDED.raw
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
                """, [accountId]))
    }

    // MARK: orders

    static func orderRows(_ items: [(String, JSONValue)], endpoint: String) throws(CollectError) -> [[(any PGEncodable)?]] {
        var rows: [[(any PGEncodable)?]] = []
        rows.reserveCapacity(items.count)
        for (id, obj) in items {
            let r = try RowReader(endpoint: endpoint, id: id, object: obj)
            let descr = obj["descr"] ?? .object([])
            let d = try RowReader(endpoint: endpoint, id: id, object: descr == .null ? .object([]) : descr)
            rows.append([
                id, try r.optionalString("refid"), try r.optionalInteger("userref"), try r.optionalString("cl_ord_id"),
                try r.string("status"), try r.optionalString("reason"), try r.optionalNonZeroTime("opentm"),
                try r.optionalNonZeroTime("closetm"), try r.optionalNonZeroTime("starttm"),
                try r.optionalNonZeroTime("expiretm"), try d.optionalString("pair"), try d.optionalString("type"),
                try d.optionalString("ordertype"), try d.optionalDecimal("price"), try d.optionalDecimal("price2"),
                try d.optionalString("leverage"), try d.optionalString("order"), try d.optionalString("close"),
                try r.optionalDecimal("vol"), try r.optionalDecimal("vol_exec"), try r.optionalDecimal("cost"),
                try r.optionalDecimal("fee"), try r.optionalDecimal("price"), try r.optionalDecimal("stopprice"),
                try r.optionalDecimal("limitprice"), try r.optionalString("trigger"), try r.optionalString("misc"),
                try r.optionalString("oflags"), try r.optionalStringArray("trades"), r.raw,
            ])
        }
        return rows
    }

    static func upsertOrders(_ db: PGConnection, accountId: Int, rows: [[(any PGEncodable)?]]) throws(PGError) -> UpsertCount {
        guard !rows.isEmpty else { return UpsertCount() }
        try db.copyIn("stage_orders", rows: rows)
        return try counts(
            db.query(
                """
                WITH up AS (
                    INSERT INTO audit.orders AS t (account_id, txid, refid, userref, cl_ord_id, status, reason, opentm,
                        closetm, starttm, expiretm, descr_pair, descr_type, descr_ordertype, descr_price, descr_price2,
                        descr_leverage, descr_order, descr_close, vol, vol_exec, cost, fee, price, stopprice,
                        limitprice, trigger, misc, oflags, trades, raw)
                    SELECT $1, txid, refid, userref, cl_ord_id, status, reason, opentm, closetm, starttm, expiretm,
                        descr_pair, descr_type, descr_ordertype, descr_price, descr_price2, descr_leverage, descr_order,
                        descr_close, vol, vol_exec, cost, fee, price, stopprice, limitprice, trigger, misc, oflags,
                        trades, raw FROM stage_orders
                    ON CONFLICT (account_id, txid) DO UPDATE SET refid = EXCLUDED.refid, userref = EXCLUDED.userref,
                        cl_ord_id = EXCLUDED.cl_ord_id, status = EXCLUDED.status, reason = EXCLUDED.reason,
                        opentm = EXCLUDED.opentm, closetm = EXCLUDED.closetm, starttm = EXCLUDED.starttm,
                        expiretm = EXCLUDED.expiretm, descr_pair = EXCLUDED.descr_pair, descr_type = EXCLUDED.descr_type,
                        descr_ordertype = EXCLUDED.descr_ordertype, descr_price = EXCLUDED.descr_price,
                        descr_price2 = EXCLUDED.descr_price2, descr_leverage = EXCLUDED.descr_leverage,
                        descr_order = EXCLUDED.descr_order, descr_close = EXCLUDED.descr_close, vol = EXCLUDED.vol,
                        vol_exec = EXCLUDED.vol_exec, cost = EXCLUDED.cost, fee = EXCLUDED.fee, price = EXCLUDED.price,
                        stopprice = EXCLUDED.stopprice, limitprice = EXCLUDED.limitprice, trigger = EXCLUDED.trigger,
                        misc = EXCLUDED.misc, oflags = EXCLUDED.oflags, trades = COALESCE(EXCLUDED.trades, t.trades),
                        raw = EXCLUDED.raw, updated_at = now()
                    WHERE t.raw IS DISTINCT FROM EXCLUDED.raw
                    RETURNING txid, status, raw, (xmax = 0) AS inserted
                ), history AS (
                    INSERT INTO audit.status_history (account_id, entity, entity_id, status, raw)
                    SELECT $1, 'order', txid, status, raw FROM up
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
                """, [accountId]))
    }

    // MARK: funding

    static func fundingRows(_ items: [JSONValue], endpoint: String) throws(CollectError) -> [[(any PGEncodable)?]] {
        var rows: [[(any PGEncodable)?]] = []
        var seen = Set<String>()
        for obj in items {
            let refid = obj["refid"]?.stringValue ?? ""
            guard !refid.isEmpty else { throw .malformed(endpoint: endpoint, reason: "a record has no refid") }
            if !seen.insert(refid).inserted { continue }
            let r = try RowReader(endpoint: endpoint, id: refid, object: obj)
            rows.append([
                refid, try r.optionalString("method"), try r.optionalString("network"), try r.optionalString("aclass"),
                try r.string("asset"), try r.optionalString("txid"), try r.optionalString("info"), try r.decimal("amount"),
                try r.optionalDecimal("fee"), try r.time("time"), try r.string("status"), try r.optionalString("status-prop"),
                try r.optionalString("key"), obj["originators"].map { $0 == .null ? nil : $0.jsonText } ?? nil, r.raw,
            ])
        }
        return rows
    }

    /// `table` is `withdrawals` or `deposits` (our own constants, never input).
    static func upsertFunding(_ db: PGConnection, accountId: Int, table: String, entity: String, rows: [[(any PGEncodable)?]]) throws(PGError) -> UpsertCount {
        guard !rows.isEmpty else { return UpsertCount() }
        try db.copyIn("stage_funding", rows: rows)
        let extraCol = table == "withdrawals" ? "key" : "originators"
        return try counts(
            db.query(
                """
                WITH up AS (
                    INSERT INTO audit.\(table) AS t (account_id, refid, method, network, aclass, asset, txid, info,
                        amount, fee, time, status, status_prop, \(extraCol), raw)
                    SELECT $1, refid, method, network, aclass, asset, txid, info, amount, fee, time, status,
                        status_prop, \(extraCol), raw FROM stage_funding
                    ON CONFLICT (account_id, refid) DO UPDATE SET method = EXCLUDED.method, network = EXCLUDED.network,
                        aclass = EXCLUDED.aclass, asset = EXCLUDED.asset, txid = EXCLUDED.txid, info = EXCLUDED.info,
                        amount = EXCLUDED.amount, fee = EXCLUDED.fee, time = EXCLUDED.time, status = EXCLUDED.status,
                        status_prop = EXCLUDED.status_prop, \(extraCol) = EXCLUDED.\(extraCol), raw = EXCLUDED.raw,
                        updated_at = now()
                    WHERE t.raw IS DISTINCT FROM EXCLUDED.raw
                    RETURNING refid, status, status_prop, raw, (xmax = 0) AS inserted
                ), history AS (
                    INSERT INTO audit.status_history (account_id, entity, entity_id, status, status_prop, raw)
                    SELECT $1, '\(entity)', refid, status, status_prop, raw FROM up
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
                """, [accountId]))
    }

    // MARK: cursors

    /// The stored paging cursor of `endpoint`, nil when none was stored yet. State that is not a ``PageCursor``
    /// fails the run (``CollectError/unreadableCursor(account:endpoint:reason:)``) rather than being taken as "no
    /// cursor", which would silently restart the endpoint from `--since`.
    static func cursor(_ db: PGConnection, accountId: Int, account: String, endpoint: String) throws(CollectError) -> PageCursor? {
        let text: String
        do {
            guard let row = try db.query(
                "SELECT state::text FROM audit.collect_cursors WHERE account_id = $1 AND endpoint = $2", [accountId, endpoint]
            ).rows.first else { return nil }
            text = try row.decode(0, as: String.self)
        } catch {
            throw .database(error)
        }
        do {
            return try PageCursor.parse(text)
        } catch {
            throw .unreadableCursor(account: account, endpoint: endpoint, reason: error.reason)
        }
    }

    /// Stores `cursor` for `endpoint` (the caller's transaction makes it atomic with the page it describes).
    static func saveCursor(_ db: PGConnection, accountId: Int, endpoint: String, cursor: PageCursor) throws {
        try db.execute(
            """
            INSERT INTO audit.collect_cursors (account_id, endpoint, state) VALUES ($1, $2, $3::jsonb)
            ON CONFLICT (account_id, endpoint) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
            """, [accountId, endpoint, try cursor.jsonText()])
    }
}
