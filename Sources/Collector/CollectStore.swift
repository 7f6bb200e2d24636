import AuditKernel
import AuditStore
import Foundation
import KrakenAPI

/// The collector's writes. Each batch goes through a temporary staging table (`COPY`), then one
/// `INSERT ... ON CONFLICT` by natural key (account + Kraken id), so a re-run never duplicates and a changed
/// entity is updated (and its earlier state kept in `audit.status_history`).
enum CollectStore {
    static func prepare(_ db: PGConnection) throws(PGError) {
        try db.executeScript(Tables.stages.map(\.stageDDL).joined(separator: "\n"))
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
        try db.copyIn(Tables.ledger.stage, rows: rows)
        try db.execute(Reconcile.ledgerFromAPI, [accountId])  // ids an export gave first: compare, keep the export row
        try db.execute(Reconcile.ledgerFromAPIOverStream, [accountId])  // ids the stream gave first: compare, REST's row follows
        return try counts(db.query(Tables.ledgerUpsert, [accountId]))
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
        try db.copyIn(Tables.trades.stage, rows: rows)
        try db.execute(Reconcile.tradesFromAPI, [accountId])
        try db.execute(Reconcile.tradesFromAPIOverStream, [accountId])
        return try counts(db.query(Tables.tradesUpsert, [accountId]))
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
        try db.copyIn(Tables.orders.stage, rows: rows)
        return try counts(db.query(Tables.ordersUpsert, [accountId]))
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

    /// `upsert` is ``Tables/withdrawalsUpsert`` or ``Tables/depositsUpsert`` (both read the funding stage).
    static func upsertFunding(_ db: PGConnection, accountId: Int, upsert: String, rows: [[(any PGEncodable)?]]) throws(PGError)
        -> UpsertCount
    {
        guard !rows.isEmpty else { return UpsertCount() }
        try db.copyIn(Tables.funding.stage, rows: rows)
        return try counts(db.query(upsert, [accountId]))
    }

    // MARK: cursors

    /// The stored paging cursor of `endpoint`, nil when none was stored yet. State that is not a ``PageCursor``
    /// fails the run (``CollectError/unreadableCursor(account:endpoint:reason:)``) rather than being taken as "no
    /// cursor", which would silently restart the endpoint from `--since`.
    static func cursor(_ db: PGConnection, accountId: Int, account: String, endpoint: String) throws(CollectError) -> PageCursor? {
        let text: String
        do {
            guard
                let row = try db.query(
                    "SELECT state::text FROM audit.collect_cursors WHERE account_id = $1 AND endpoint = $2", [accountId, endpoint]
                ).rows.first
            else { return nil }
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
