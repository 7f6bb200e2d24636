import AuditStore
import Foundation
import TestSupport
import Testing

/// Migration 0011: the append-only tables refuse UPDATE, DELETE and TRUNCATE for every role, the owner (a
/// superuser in the test cluster) included, while INSERT keeps working; `session_replication_role = replica`
/// switches the triggers off (the superuser tampering that issue 17's `verify` must catch instead).
@Suite struct AppendOnlyTriggerTests {
    /// Each append-only table with a column an UPDATE could rewrite.
    static let tables: [(table: String, column: String)] = [
        ("api_calls", "retry"), ("finding_events", "note"), ("status_history", "status"), ("source_mismatches", "api_value"),
        ("api_key_snapshots", "nonce_window"),
    ]

    /// One row in each table, inserted by `db`.
    static func insertOneRowEach(_ db: PGConnection, tag: String) throws {
        try db.executeScript(
            """
            INSERT INTO audit.accounts (name) VALUES ('\(tag)') ON CONFLICT (name) DO NOTHING;
            INSERT INTO audit.findings (rule_id, severity, title, dedupe_key) VALUES ('r', 'low', 't', '\(tag)');
            INSERT INTO audit.api_calls (account_id, endpoint, started_at, duration_ms)
                SELECT id, 'Balance', now(), 12.5 FROM audit.accounts WHERE name = '\(tag)';
            INSERT INTO audit.finding_events (finding_id, old_status, new_status, note, changed_by)
                SELECT id, 'open', 'acknowledged', 'checked', 'alice' FROM audit.findings WHERE dedupe_key = '\(tag)';
            INSERT INTO audit.status_history (account_id, entity, entity_id, status, raw)
                SELECT id, 'withdrawal', 'W-\(tag)', 'Pending', '{}'::jsonb FROM audit.accounts WHERE name = '\(tag)';
            INSERT INTO audit.source_mismatches (account_id, entity, entity_id, field, export_value, api_value, export_id)
                SELECT id, 'ledger', 'L-\(tag)', 'amount', '1.0', '2.0', 'E1' FROM audit.accounts WHERE name = '\(tag)';
            INSERT INTO audit.api_key_snapshots (account_id, key_fingerprint, permissions, ip_allowlist, nonce_window, raw)
                SELECT id, 'sha256:0123456789abcdef', '{query-funds}', '{}', 0, '{}'::jsonb FROM audit.accounts WHERE name = '\(tag)';
            """)
    }

    static func count(_ db: PGConnection, _ table: String) throws -> Int {
        try db.query("SELECT count(*) FROM audit.\(table)").rows[0].decode(0, as: Int.self)
    }

    /// The statements that must be refused on `table`.
    static func rewrites(_ table: String, _ column: String) -> [String] {
        ["UPDATE audit.\(table) SET \(column) = \(column)", "DELETE FROM audit.\(table)", "TRUNCATE audit.\(table)"]
    }

    /// Expects `sql` to fail with the trigger's error, naming the table and saying why.
    static func expectTriggerRefuses(_ db: PGConnection, _ sql: String, table: String, as who: String) {
        let error = #expect(throws: PGError.self, "\(who): \(sql)") { try db.execute(sql) }
        #expect(error?.sqlState == "P0001", "\(who): \(sql): \(String(describing: error))")
        #expect(error?.message.contains("audit.\(table)") == true, "\(who): \(sql): \(String(describing: error))")
        #expect(error?.message.contains("append-only") == true, "\(who): \(sql): \(String(describing: error))")
        #expect(error?.hint?.contains("appended") == true, "\(who): \(sql): \(String(describing: error))")
        // What a user reads names the table too.
        #expect(error?.description.contains("audit.\(table)") == true)
    }

    /// A LOGIN role holding `kraken_audit_writer` (as `kraken-audit grant writer` makes one); its conninfo.
    static func writerLogin(_ database: TestDatabase, on admin: PGConnection) throws -> String {
        let user = "ka_appendonly_\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let password = "pw" + UUID().uuidString.prefix(12)
        let create = try admin.query(
            """
            SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)
                   || format('; GRANT kraken_audit_writer TO %I', $1::text)
            """,
            [user, password]
        ).rows[0].decode(0, as: String.self)
        try admin.executeScript(create)
        return "dbname=\(database.name) user=\(user) password=\(password)"
    }

    @Test func ownerAndSuperuserCannotUpdateDeleteOrTruncate() throws {
        let database = try TestDatabase("appendonly")
        let owner = try database.migrated()
        defer { owner.close() }
        #expect(try owner.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").rows[0].decode(0, as: Bool.self))
        try Self.insertOneRowEach(owner, tag: "owner")
        for (table, column) in Self.tables {
            for sql in Self.rewrites(table, column) {
                Self.expectTriggerRefuses(owner, sql, table: table, as: "owner")
            }
            #expect(try Self.count(owner, table) == 1, "audit.\(table)")
        }
        // Nor by cascade: truncating or deleting what the rows hang on reaches the append-only tables.
        // (A finding's creation is itself hash-chained since migration 0012: its own triggers refuse first.)
        Self.expectTriggerRefuses(owner, "TRUNCATE audit.findings CASCADE", table: "findings", as: "owner")
        Self.expectTriggerRefuses(owner, "DELETE FROM audit.findings", table: "findings", as: "owner")
        #expect(try Self.count(owner, "findings") == 1)
        // Inside a transaction the refusal rolls the whole transaction back.
        let inTransaction = #expect(throws: PGError.self) {
            try owner.transaction {
                _ = try owner.execute("INSERT INTO audit.api_calls (endpoint, started_at, duration_ms) VALUES ('Time', now(), 1)")
                _ = try owner.execute("DELETE FROM audit.api_calls WHERE endpoint = 'Balance'")
            }
        }
        #expect(inTransaction?.sqlState == "P0001")
        #expect(try Self.count(owner, "api_calls") == 1)
        // INSERT still works.
        try Self.insertOneRowEach(owner, tag: "owner2")
        for (table, _) in Self.tables { #expect(try Self.count(owner, table) == 2, "audit.\(table)") }
    }

    @Test func writerRoleCannotUpdateDeleteOrTruncateEvenWithTheGrantsBack() throws {
        let database = try TestDatabase("appendonlywriter")
        let owner = try database.migrated()
        defer { owner.close() }
        let writer = try PGConnection(url: try Self.writerLogin(database, on: owner), logger: TestDatabase.logger)
        defer { writer.close() }
        let writerIsSuperuser = try writer.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").rows[0]
            .decode(0, as: Bool.self)
        #expect(!writerIsSuperuser)
        // INSERT works as the writer.
        try Self.insertOneRowEach(writer, tag: "writer")
        for (table, _) in Self.tables { #expect(try Self.count(writer, table) == 1, "audit.\(table)") }
        // Refused first by the grants (0007, 0009): the error names the table.
        for (table, column) in Self.tables {
            for sql in Self.rewrites(table, column) {
                let error = #expect(throws: PGError.self, "\(sql)") { try writer.execute(sql) }
                #expect(error?.sqlState == "42501", "\(sql): \(String(describing: error))")
                #expect(error?.message.contains(table) == true, "\(sql): \(String(describing: error))")
            }
        }
        // A careless GRANT gives the writer the privileges back (table privileges are per database: only this
        // throw-away database's tables): the triggers still refuse.
        try owner.executeScript(
            Self.tables.map { "GRANT UPDATE, DELETE, TRUNCATE ON audit.\($0.table) TO kraken_audit_writer;" }.joined(separator: "\n"))
        for (table, column) in Self.tables {
            for sql in Self.rewrites(table, column) {
                Self.expectTriggerRefuses(writer, sql, table: table, as: "writer")
            }
            #expect(try Self.count(writer, table) == 1, "audit.\(table)")
        }
    }

    /// The documented hole: a superuser who sets `session_replication_role = replica` (or disables the triggers)
    /// rewrites rows unhindered. Detecting that is the hash chains' job (issue 17); here it is explicit.
    @Test func replicationRoleReplicaBypassesTheTriggers() throws {
        let database = try TestDatabase("appendonlyreplica")
        let owner = try database.migrated()
        defer { owner.close() }
        try Self.insertOneRowEach(owner, tag: "tamper")
        let tamperer = try database.connect()
        defer { tamperer.close() }
        try tamperer.executeScript("SET session_replication_role = replica")
        for (table, column) in Self.tables {
            #expect(try tamperer.execute("UPDATE audit.\(table) SET \(column) = \(column)") == 1, "audit.\(table)")
            #expect(try tamperer.execute("DELETE FROM audit.\(table)") == 1, "audit.\(table)")
        }
        try Self.insertOneRowEach(owner, tag: "tamper2")
        for (table, _) in Self.tables {
            try tamperer.executeScript("TRUNCATE audit.\(table)")
            #expect(try Self.count(owner, table) == 0, "audit.\(table)")
        }
        // Back to normal, the triggers refuse again; other sessions never stopped refusing.
        try Self.insertOneRowEach(owner, tag: "tamper3")
        Self.expectTriggerRefuses(owner, "DELETE FROM audit.api_calls", table: "api_calls", as: "owner")
        try tamperer.executeScript("RESET session_replication_role")
        for (table, column) in Self.tables {
            for sql in Self.rewrites(table, column) {
                Self.expectTriggerRefuses(tamperer, sql, table: table, as: "after reset")
            }
        }
    }

    /// Both triggers exist and are enabled on each table, and each table's comment says so.
    @Test func triggersAndCommentsArePresent() throws {
        let database = try TestDatabase("appendonlycatalog")
        let db = try database.migrated()
        defer { db.close() }
        for (table, _) in Self.tables {
            let triggers = try db.query(
                """
                SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
                 WHERE tgrelid = $1::regclass AND NOT tgisinternal
                """, ["audit.\(table)"]
            ).rows[0].decode(0, as: String.self)
            // chain_append / chain_head: every row is hash-chained at insert (migration 0012).
            #expect(triggers == "append_only_rows:O,append_only_truncate:O,chain_append:O,chain_head:O", "audit.\(table)")
            let comment = try db.query("SELECT obj_description($1::regclass, 'pg_class')", ["audit.\(table)"]).rows[0]
                .decode(0, as: String.self)
            #expect(comment.contains("Append-only, enforced by trigger"), "audit.\(table): \(comment)")
        }
    }
}
