import AuditKernel
import AuditStore
import Foundation
import TestSupport
import Testing

@testable import Collector

/// What `watch` streams is stored in the collector's version tables with `source = 'ws'` (issue 20); REST stays the
/// source of truth: its row becomes the next version, and every field it disagrees on is recorded first.
@Suite struct StreamStoreTests {
    static func entry(_ id: String, amount: String = "-1.5000000000", balance: String = "10.0000000000") -> StreamStore.LedgerEntry {
        StreamStore.LedgerEntry(
            ledgerId: id, refid: "R-\(id)", time: "2026-11-30T10:00:00.123456Z", type: "withdrawal", subtype: "", aclass: "currency",
            asset: "XXBT", amount: ExactDecimal(amount)!, fee: ExactDecimal("0.0005000000")!, balance: ExactDecimal(balance)!,
            raw: .object([("ledger_id", .string(id))]))
    }

    /// A REST `Ledgers` row for the same entry (float seconds; strings).
    static func restRow(_ id: String, amount: String) throws -> [[(any PGEncodable)?]] {
        let object = try JSONValue.parse(
            #"{"refid":"R-\#(id)","time":1796032800.1235,"type":"withdrawal","subtype":"","aclass":"currency","asset":"XXBT","amount":"\#(amount)","fee":"0.0005000000","balance":"10.0000000000"}"#
        )
        return try CollectStore.ledgerRows([(id, object)], endpoint: "Ledgers")
    }

    @Test func streamedRowsAreStoredOnceAndRESTConfirmsOrRecordsTheDifference() throws {
        let database = try TestDatabase("streamstore")
        let db = try database.migrated()
        defer { db.close() }
        try CollectStore.prepare(db)
        let accountId = try AccountStore.ensure(on: db, name: "acct1")

        // Stored once, whatever the repetition (duplicated message, two rows of one message).
        #expect(try StreamStore.storeLedger(db, accountId: accountId, entries: [Self.entry("L1"), Self.entry("L2")]) == ["L1", "L2"])
        #expect(
            try StreamStore.storeLedger(db, accountId: accountId, entries: [Self.entry("L1"), Self.entry("L3"), Self.entry("L3")]) == ["L3"]
        )
        let stored = try db.query(
            "SELECT ledger_id, source, version, amount::text, time = '2026-11-30T10:00:00.123456Z' FROM audit.ledger_entries WHERE account_id = $1 ORDER BY 1",
            [accountId]
        ).rows.map {
            (
                try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Int.self),
                try $0.decode(3, as: String.self), try $0.decode(4, as: Bool.self)
            )
        }
        #expect(stored.map(\.0) == ["L1", "L2", "L3"])
        #expect(stored.allSatisfy { $0.1 == "ws" && $0.2 == 1 && $0.3 == "-1.5000000000" && $0.4 })

        // REST agrees on L1 (same amount): confirmed, no mismatch. REST disagrees on L2: the difference is recorded.
        _ = try db.transaction { try CollectStore.upsertLedger(db, accountId: accountId, rows: try Self.restRow("L1", amount: "-1.5")) }
        _ = try db.transaction { try CollectStore.upsertLedger(db, accountId: accountId, rows: try Self.restRow("L2", amount: "-2.5")) }
        let after = try db.query(
            "SELECT ledger_id, source, version, amount::text FROM audit.ledger_entries WHERE account_id = $1 ORDER BY 1", [accountId]
        ).rows.map {
            (
                try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Int.self),
                try $0.decode(3, as: String.self)
            )
        }
        #expect(
            after[0] == ("L1", "api", 2, "-1.5") && after[1] == ("L2", "api", 2, "-2.5") && after[2] == ("L3", "ws", 1, "-1.5000000000"))
        let mismatches = try db.query(
            "SELECT entity_id, field, export_value, api_value, export_id FROM audit.source_mismatches WHERE account_id = $1 ORDER BY 1, 2",
            [accountId]
        ).rows.map { row in try (0..<5).map { i in try row.decode(i, as: String.self) } }
        #expect(mismatches == [["L2", "amount", "-1.5000000000", "-2.5", "stream"]])
        // The streamed version stays in the history (and the chain); REST's row is not stored again on the next page.
        #expect(
            try db.query("SELECT count(*) FROM audit.ledger_entry_versions WHERE account_id = $1", [accountId]).rows[0].decode(
                0, as: Int.self) == 5)
        let again = try db.transaction {
            try CollectStore.upsertLedger(db, accountId: accountId, rows: try Self.restRow("L2", amount: "-2.5"))
        }
        #expect(again == UpsertCount())
        // A streamed copy arriving after REST's row is ignored.
        #expect(try StreamStore.storeLedger(db, accountId: accountId, entries: [Self.entry("L2")]).isEmpty)
    }

    @Test func streamedTradesAreStoredOnceWithTheirNumbers() throws {
        let database = try TestDatabase("streamtrades")
        let db = try database.migrated()
        defer { db.close() }
        try CollectStore.prepare(db)
        let accountId = try AccountStore.ensure(on: db, name: "acct1")
        let trade = StreamStore.Trade(
            txid: "T1", ordertxid: "O1", pair: "XXBTZUSD", time: "2026-11-30T03:13:00.5Z", type: "buy", ordertype: "market",
            price: ExactDecimal("60000.0")!, cost: ExactDecimal("600.00000")!, fee: ExactDecimal("0.96000")!,
            vol: ExactDecimal("0.01000000")!, tradeId: 42, maker: false, raw: .object([]))
        #expect(try StreamStore.storeTrades(db, accountId: accountId, trades: [trade, trade]) == ["T1"])
        #expect(try StreamStore.storeTrades(db, accountId: accountId, trades: [trade]).isEmpty)
        let row = try db.query(
            "SELECT source, pair, vol::text, cost::text, fee::text, trade_id, maker FROM audit.trades WHERE account_id = $1", [accountId]
        ).rows[0]
        #expect(try row.decode(0, as: String.self) == "ws" && row.decode(1, as: String.self) == "XXBTZUSD")
        #expect(try row.decode(2, as: String.self) == "0.01000000" && row.decode(3, as: String.self) == "600.00000")
        #expect(try row.decode(4, as: String.self) == "0.96000" && row.decode(5, as: Int.self) == 42 && !row.decode(6, as: Bool.self))
    }

    @Test func streamedOrderEventsStoreOrdersAndTheirNewStates() throws {
        let database = try TestDatabase("streamorders")
        let db = try database.migrated()
        defer { db.close() }
        let accountId = try AccountStore.ensure(on: db, name: "acct1")
        let placed = StreamStore.OrderEvent(
            txid: "O1", status: "open", pair: "XXBTZUSD", type: "buy", ordertype: "limit", vol: ExactDecimal("0.01000000"),
            price: ExactDecimal("59000.0"), userref: 7, opentm: "2026-11-30T22:50:00.000100Z", raw: .object([("exec_type", .string("new"))])
        )
        let cancelled = StreamStore.OrderEvent(
            txid: "O1", status: "canceled", closetm: "2026-11-30T22:57:00Z", reason: "User requested",
            raw: .object([("exec_type", .string("canceled"))]))
        // Placed, repeated (no change), cancelled; an unknown order's cancellation is stored as far as it is known.
        #expect(try StreamStore.storeOrders(db, accountId: accountId, events: [placed, placed, cancelled]) == 2)
        #expect(try StreamStore.storeOrders(db, accountId: accountId, events: [cancelled]) == 0)
        #expect(
            try StreamStore.storeOrders(
                db, accountId: accountId, events: [StreamStore.OrderEvent(txid: "O2", status: "expired", raw: .object([]))]) == 1)
        let row = try db.query(
            """
            SELECT status, version, descr_pair, descr_type, vol::text, descr_price::text, userref, reason,
                   opentm = '2026-11-30T22:50:00.0001Z', closetm = '2026-11-30T22:57:00Z'
              FROM audit.orders WHERE account_id = $1 AND txid = 'O1'
            """, [accountId]
        ).rows[0]
        #expect(try row.decode(0, as: String.self) == "canceled" && row.decode(1, as: Int.self) == 2)
        #expect(try row.decode(2, as: String.self) == "XXBTZUSD" && row.decode(3, as: String.self) == "buy")
        #expect(try row.decode(4, as: String.self) == "0.01000000" && row.decode(5, as: String.self) == "59000.0")
        #expect(try row.decode(6, as: Int.self) == 7 && row.decode(7, as: String.self) == "User requested")
        #expect(try row.decode(8, as: Bool.self) && row.decode(9, as: Bool.self))
        let history = try db.query(
            "SELECT entity_id || ':' || status FROM audit.status_history WHERE account_id = $1 ORDER BY id", [accountId]
        ).rows.map { try $0.decode(0, as: String.self) }
        #expect(history == ["O1:open", "O1:canceled", "O2:expired"])
    }
}
