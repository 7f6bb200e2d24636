import AuditStore
import Foundation
import TestSupport
import Testing

@testable import Collector

/// The upserted tables are described once (``UpsertTable``): the staging DDL, the INSERT column list and the SET
/// list all come from that description. These tests hold the description to the migrated schema.
@Suite struct UpsertTableTests {
    @Test func everyDescribedColumnExistsInTheTargetTableWithTheSameType() throws {
        let database = try TestDatabase("upsert")
        let db = try database.migrated()
        defer { db.close() }
        let described: [UpsertTable] = [
            CollectStore.Tables.ledger, CollectStore.Tables.trades, CollectStore.Tables.orders,
            CollectStore.Tables.withdrawals, CollectStore.Tables.deposits,
        ]
        for table in described {
            for column in table.tableColumns {
                let row = try db.query(
                    """
                    SELECT format_type(a.atttypid, NULL), $3::regtype::text FROM pg_attribute a
                     WHERE a.attrelid = ('audit.' || $1)::regclass AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped
                    """, [table.table, column.name, column.type]
                ).rows.first
                let types = try row.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
                #expect(types != nil, "audit.\(table.table) has no column \(column.name)")
                if let types { #expect(types.0 == types.1, "audit.\(table.table).\(column.name)") }
            }
        }
        // The staging tables are created from the same description, and each upsert statement is valid SQL.
        try CollectStore.prepare(db)
        for sql in [
            CollectStore.Tables.ledgerUpsert, CollectStore.Tables.tradesUpsert, CollectStore.Tables.ordersUpsert,
            CollectStore.Tables.withdrawalsUpsert, CollectStore.Tables.depositsUpsert,
        ] {
            let counts = try db.transaction { try CollectStore.counts(db.query(sql, [1])) }
            #expect(counts == UpsertCount())
        }
    }

    @Test func changedObjectsAppendAVersionAndKeepMissingLists() {
        let sql = CollectStore.Tables.trades.upsertSQL()
        // Append-only (migration 0012): a new version of the stored object, never an UPDATE of it.
        #expect(sql.contains("INSERT INTO audit.trade_versions AS v (account_id, version, first_seen_at, txid, ordertxid"))
        #expect(sql.contains("COALESCE(t.version, 0) + 1"))
        #expect(sql.contains("COALESCE(s.ledgers, t.ledgers)"))
        #expect(sql.contains("ON CONFLICT ON CONSTRAINT trade_versions_pkey DO NOTHING"))
        #expect(!sql.contains("DO UPDATE") && !sql.contains("UPDATE audit."))
        #expect(!CollectStore.Tables.depositsUpsert.contains(" key") && CollectStore.Tables.depositsUpsert.contains("originators"))
        #expect(!CollectStore.Tables.withdrawalsUpsert.contains("originators") && CollectStore.Tables.withdrawalsUpsert.contains(" key"))
    }
}
