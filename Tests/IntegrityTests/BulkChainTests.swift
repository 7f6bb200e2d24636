import AuditKernel
import AuditStore
import Foundation
import Integrity
import Testing

@testable import AuditStore

/// Issue 18: rows appended in bulk (``ChainBulkAppend``, migration 0014: linked in the binary, checked per statement
/// by the trigger) verify like rows the per-row trigger linked, a tampered one is named, and the statement check
/// refuses what would break a chain.
@Suite(.serialized) struct BulkChainTests {
    static let ledger = ChainTable.catalogue.first { $0.chain == "ledger_entries" }!

    /// Fills `bulk_rows` with `count` ledger rows of `account` (NULLs, escapes and non-ASCII text in raw, scales kept).
    static func stage(_ db: PGConnection, account: Int, count: Int) throws {
        try db.executeScript(
            """
            DROP TABLE IF EXISTS bulk_rows;
            CREATE TEMP TABLE bulk_rows ON COMMIT DROP AS SELECT * FROM audit.ledger_entry_versions WITH NO DATA;
            ALTER TABLE bulk_rows ADD COLUMN chain_seq bigint;
            """)
        try db.execute(
            """
            INSERT INTO bulk_rows (chain_seq, account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance,
                                   raw, source, export_id, first_seen_at, updated_at, version)
            SELECT i, $1, 'LBULK-' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'TBULK-' || i END,
                   timestamptz '2024-02-29 12:00:00.123456+00' + i * interval '1 minute', 'trade', '', 'currency', 'XXBT',
                   round(i / 8.0, 10), 0.0000000000, 1.50 + i,
                   jsonb_build_object('note', E'tab\\there \\\\ back "q" \u{00fc}\nline', 'i', i), 'export',
                   CASE WHEN i % 5 = 0 THEN NULL ELSE 'EXPORT-' || i END, now(), now(), 1
              FROM generate_series(1, $2::integer) i
            """, [account, count])
    }

    @Test func bulkAppendedRowsVerifyIntactAndATamperedOneIsNamed() async throws {
        try await TamperEvidenceTests.withSealed { s in
            let db = s.h.db
            let account = try db.query("SELECT account_id FROM audit.ledger_entry_versions LIMIT 1").rows[0].decode(0, as: Int.self)
            let before = try db.query(
                "SELECT position FROM audit.chain_heads WHERE chain = 'ledger_entries' AND account_id = $1", [account]
            ).rows[0].decode(0, as: Int64.self)
            let appended = try db.transaction { () throws -> Int in
                var bulk = ChainBulkAppend(db: db, table: Self.ledger)
                bulk.chunkRows = 40  // several statements: links across chunks
                try bulk.lock(account: account)
                try Self.stage(db, account: account, count: 130)
                return try bulk.append(account: account, from: "bulk_rows").rows
            }
            #expect(appended == 130)
            let head = try db.query(
                "SELECT position FROM audit.chain_heads WHERE chain = 'ledger_entries' AND account_id = $1", [account]
            ).rows[0].decode(0, as: Int64.self)
            #expect(head == before + 130, "the head record follows the last bulk link")
            // A per-row append after the bulk one continues the chain.
            try db.execute(
                """
                INSERT INTO audit.ledger_entry_versions (account_id, ledger_id, time, type, asset, amount, fee, balance, raw)
                VALUES ($1, 'LAFTER-BULK', now(), 'deposit', 'ZUSD', 1, 0, 1, '{}')
                """, [account])
            for mode in [IntegrityVerifier.Mode.full, .incremental] {
                let report = try s.verify(mode: mode)
                #expect(report.problems.isEmpty, "\(mode): \(TamperEvidenceTests.describe(report))")
            }
            _ = try s.seal()
            try s.tamper("UPDATE audit.ledger_entry_versions SET amount = amount + 1 WHERE ledger_id = 'LBULK-77'")
            let report = try s.verify()
            let changed = report.problems.filter { $0.kind == .rowChanged }
            #expect(changed.count == 1 && changed.first?.key["ledger_id"] == "LBULK-77", "\(TamperEvidenceTests.describe(report))")
            #expect(changed.first?.columns == ["amount"])
        }
    }

    @Test func theStatementCheckRefusesBrokenLinksAndAWrongHashIsReportedByVerify() async throws {
        try await TamperEvidenceTests.withSealed { s in
            let db = s.h.db
            let head = try db.query(
                """
                SELECT chain_account, chain_pos, encode(row_hash, 'hex') FROM audit.ledger_entry_versions
                 ORDER BY chain_pos DESC LIMIT 1
                """
            ).rows[0]
            let account = try head.decode(0, as: Int.self)
            let position = try head.decode(1, as: Int64.self)
            let hash = try head.decode(2, as: String.self)
            func insert(_ pos: Int64, prev: String, at: String = "clock_timestamp()", chainAccount: Int? = nil) throws {
                try db.transaction {
                    _ = try db.execute(
                        """
                        INSERT INTO audit.ledger_entry_versions (account_id, ledger_id, time, type, asset, amount, fee, balance, raw,
                            chain_account, chain_pos, prev_hash, row_hash, col_digest, chained_at)
                        VALUES ($1, 'LPRESET-' || $2::bigint, now(), 'deposit', 'ZUSD', 1, 0, 1, '{}', $3, $2::bigint, decode($4, 'hex'),
                                sha256('not the encoding'), '\\x00', \(at))
                        """, [account, pos, chainAccount ?? account, prev])
                }
            }
            let zero = String(repeating: "0", count: 64)
            let refused: [(String, () throws -> Void)] = [
                ("a gap", { try insert(position + 2, prev: hash) }),
                ("a taken position", { try insert(position, prev: hash) }),
                ("a wrong link", { try insert(position + 1, prev: zero) }),
                ("a backdated link", { try insert(position + 1, prev: hash, at: "now() - interval '1 day'") }),
                ("another account's chain", { try insert(position + 1, prev: hash, chainAccount: account + 1000) }),
            ]
            for (what, attempt) in refused {
                #expect(throws: PGError.self, "\(what) is refused") { try attempt() }
            }
            #expect(try s.verify().problems.isEmpty, "nothing refused was stored")
            // A correct link with a wrong hash is accepted at insert (recomputing it there is what 0014 saves)
            // and named by verify, which recomputes every hash.
            try insert(position + 1, prev: hash)
            let report = try s.verify()
            #expect(
                report.problems.map(\.kind) == [.rowChanged] && report.problems.first?.key["ledger_id"] == "LPRESET-\(position + 1)",
                "\(TamperEvidenceTests.describe(report))")
        }
    }
}
