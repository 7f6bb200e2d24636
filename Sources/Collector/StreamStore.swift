import AuditKernel
import AuditStore
import Foundation

/// Writes what Kraken's WebSocket v2 stream delivered (issue 20, `kraken-audit watch`) into the collector's tables:
/// the same version tables, natural keys and staging tables as REST rows, with `source = 'ws'`. The collector owns
/// these tables, so the stream's writes live here, beside the REST ones.
///
/// Only ids not stored yet are inserted (as version 1): a duplicated message, an entry the gap fill already read
/// from REST, or one an export gave, stays as it is. When REST later returns the id, ``CollectStore`` records any
/// field difference (`source_mismatches`, export_id `stream`) and stores REST's row as the next version.
public enum StreamStore {
    /// A ledger entry of the `balances` channel, already in REST's names and units (asset keys, decimal texts).
    public struct LedgerEntry: Sendable, Equatable {
        public var ledgerId: String
        public var refid: String?
        /// ISO 8601 text (`2026-01-22T10:17:55.214460Z`), stored as `timestamptz` exactly.
        public var time: String
        public var type: String
        public var subtype: String
        public var aclass: String
        public var asset: String
        public var amount: ExactDecimal
        public var fee: ExactDecimal
        public var balance: ExactDecimal
        /// The message's object as received.
        public var raw: JSONValue

        public init(
            ledgerId: String, refid: String?, time: String, type: String, subtype: String, aclass: String, asset: String,
            amount: ExactDecimal, fee: ExactDecimal, balance: ExactDecimal, raw: JSONValue
        ) {
            self.ledgerId = ledgerId
            self.refid = refid
            self.time = time
            self.type = type
            self.subtype = subtype
            self.aclass = aclass
            self.asset = asset
            self.amount = amount
            self.fee = fee
            self.balance = balance
            self.raw = raw
        }
    }

    /// A fill of the `executions` channel (`exec_type` `trade`), in REST's names: `txid` = `exec_id`, `pair` the
    /// REST pair key, `type` buy/sell.
    public struct Trade: Sendable, Equatable {
        public var txid: String
        public var ordertxid: String?
        public var pair: String
        public var time: String
        public var type: String
        public var ordertype: String?
        public var price: ExactDecimal
        public var cost: ExactDecimal
        public var fee: ExactDecimal
        public var vol: ExactDecimal
        public var tradeId: Int64?
        public var maker: Bool?
        public var raw: JSONValue

        public init(
            txid: String, ordertxid: String?, pair: String, time: String, type: String, ordertype: String?, price: ExactDecimal,
            cost: ExactDecimal, fee: ExactDecimal, vol: ExactDecimal, tradeId: Int64?, maker: Bool?, raw: JSONValue
        ) {
            self.txid = txid
            self.ordertxid = ordertxid
            self.pair = pair
            self.time = time
            self.type = type
            self.ordertype = ordertype
            self.price = price
            self.cost = cost
            self.fee = fee
            self.vol = vol
            self.tradeId = tradeId
            self.maker = maker
            self.raw = raw
        }
    }

    /// An order's state as an `executions` report told it (REST's names: status `pending`, `open`, `closed`,
    /// `canceled`, `expired`; `pair` the REST pair key; `type` buy/sell). Fields a report does not carry are nil.
    public struct OrderEvent: Sendable, Equatable {
        public var txid: String
        public var status: String
        public var pair: String?
        public var type: String?
        public var ordertype: String?
        public var vol: ExactDecimal?
        public var price: ExactDecimal?
        public var userref: Int64?
        public var opentm: String?
        public var closetm: String?
        public var reason: String?
        public var raw: JSONValue

        public init(
            txid: String, status: String, pair: String? = nil, type: String? = nil, ordertype: String? = nil, vol: ExactDecimal? = nil,
            price: ExactDecimal? = nil, userref: Int64? = nil, opentm: String? = nil, closetm: String? = nil, reason: String? = nil,
            raw: JSONValue
        ) {
            self.txid = txid
            self.status = status
            self.pair = pair
            self.type = type
            self.ordertype = ordertype
            self.vol = vol
            self.price = price
            self.userref = userref
            self.opentm = opentm
            self.closetm = closetm
            self.reason = reason
            self.raw = raw
        }
    }

    /// Applies order events in order, in one transaction: an unknown order is stored (version 1), a known one whose
    /// status changed gets its next version (the stored fields kept, the event's status, close time and reason
    /// taken), each recorded in `audit.status_history` like REST's changes. Returns the number of versions written.
    /// REST's next answer for the order becomes its next version in turn (it carries every field).
    public static func storeOrders(_ db: PGConnection, accountId: Int, events: [OrderEvent]) throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try db.transaction { () throws -> Int in
            var written = 0
            for e in events {
                let current = try db.query("SELECT status FROM audit.orders WHERE account_id = $1 AND txid = $2", [accountId, e.txid]).rows
                    .first
                if let current {
                    guard try current.decode(0, as: String.self) != e.status else { continue }
                    written += try db.execute(nextOrderVersion, [accountId, e.txid, e.status, e.closetm, e.reason, e.raw.jsonText])
                } else {
                    written += try db.execute(
                        """
                        INSERT INTO audit.order_versions AS v (account_id, version, txid, status, userref, opentm, closetm, descr_pair,
                            descr_type, descr_ordertype, descr_price, vol, reason, raw)
                        VALUES ($1, 1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7, $8, $9, $10, $11, $12, $13::jsonb)
                        ON CONFLICT ON CONSTRAINT order_versions_pkey DO NOTHING
                        """,
                        [
                            accountId, e.txid, e.status, e.userref, e.opentm, e.closetm, e.pair, e.type, e.ordertype, e.price, e.vol,
                            e.reason, e.raw.jsonText,
                        ])
                }
                try db.execute(
                    "INSERT INTO audit.status_history (account_id, entity, entity_id, status, raw) VALUES ($1, 'order', $2, $3, $4::jsonb)",
                    [accountId, e.txid, e.status, e.raw.jsonText])
            }
            return written
        }
    }

    /// The stored order's next version: its columns, with `$3` status, `$4` close time, `$5` reason (when given) and
    /// `$6` raw (the report).
    static let nextOrderVersion: String = {
        let overrides = [
            "status": "$3", "closetm": "coalesce($4::timestamptz, o.closetm)", "reason": "coalesce($5, o.reason)", "raw": "$6::jsonb",
        ]
        let columns = CollectStore.Tables.orders.tableColumns.filter { $0.name != "account_id" }.map(\.name)
        return """
            INSERT INTO audit.order_versions AS v (account_id, version, first_seen_at, \(columns.joined(separator: ", ")))
            SELECT o.account_id, o.version + 1, o.first_seen_at, \(columns.map { overrides[$0] ?? "o.\($0)" }.joined(separator: ", "))
              FROM audit.orders o WHERE o.account_id = $1 AND o.txid = $2
            ON CONFLICT ON CONSTRAINT order_versions_pkey DO NOTHING
            """
    }()

    /// Prepares a connection (the staging tables); pools that serve ``storeLedger(_:accountId:entries:)`` use it.
    @Sendable public static func prepare(_ db: PGConnection) throws(PGError) { try CollectStore.prepare(db) }

    /// Stores the entries whose ids are new for the account, in one transaction; returns the ids inserted.
    public static func storeLedger(_ db: PGConnection, accountId: Int, entries: [LedgerEntry]) throws -> [String] {
        guard !entries.isEmpty else { return [] }
        let rows: [[(any PGEncodable)?]] = entries.map {
            [$0.ledgerId, $0.refid, $0.time, $0.type, $0.subtype, $0.aclass, $0.asset, $0.amount, $0.fee, $0.balance, $0.raw.jsonText]
        }
        return try db.transaction {
            try db.copyIn(CollectStore.Tables.ledger.stage, rows: rows)
            return try db.query(insertNew(CollectStore.Tables.ledger), [accountId]).rows.map { try $0.decode(0, as: String.self) }
        }
    }

    /// Stores the fills whose trade ids are new for the account, in one transaction; returns the ids inserted.
    public static func storeTrades(_ db: PGConnection, accountId: Int, trades: [Trade]) throws -> [String] {
        guard !trades.isEmpty else { return [] }
        let rows: [[(any PGEncodable)?]] = trades.map {
            [
                $0.txid, $0.ordertxid, nil, $0.pair, $0.time, $0.type, $0.ordertype, $0.price, $0.cost, $0.fee, $0.vol, nil, nil, nil,
                $0.tradeId, $0.maker, nil, nil, $0.raw.jsonText,
            ]
        }
        return try db.transaction {
            try db.copyIn(CollectStore.Tables.trades.stage, rows: rows)
            return try db.query(insertNew(CollectStore.Tables.trades), [accountId]).rows.map { try $0.decode(0, as: String.self) }
        }
    }

    /// `INSERT` of the staged rows whose key the account has not stored yet (first occurrence of a key staged twice),
    /// as version 1 with `source = 'ws'`; returns their keys.
    static func insertNew(_ table: UpsertTable) -> String {
        let columns = table.tableColumns.filter { $0.name != "account_id" }
        let names = columns.map(\.name).joined(separator: ", ")
        let key = columns.first { $0.onConflict == .key }?.name ?? "id"
        return """
            INSERT INTO audit.\(table.versions) AS v (account_id, version, source, \(names))
            SELECT DISTINCT ON (s.\(key)) $1, 1, 'ws', \(columns.map { "s.\($0.name)" }.joined(separator: ", "))
              FROM \(table.stage) s
             WHERE NOT EXISTS (SELECT 1 FROM audit.\(table.table) t WHERE t.account_id = $1 AND t.\(key) = s.\(key))
             ORDER BY s.\(key)
            -- The same id stored concurrently (the nightly REST collection, a second message): it stands.
            ON CONFLICT ON CONSTRAINT \(table.versions)_pkey DO NOTHING
            RETURNING \(key)
            """
    }
}
