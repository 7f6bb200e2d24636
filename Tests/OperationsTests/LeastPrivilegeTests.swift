import AuditStore
import ChildProcesses
import Foundation
import Operations
import TestSupport
import Testing

/// The tool works with the least privilege it documents: the nightly job and an export backfill succeed when
/// the configured database user holds only `kraken_audit_writer` (no UPDATE on the append-only tables since
/// migration 0007), and every tool connection pins `search_path`, so objects another user creates cannot shadow
/// what the tool and its rules call.
@Suite struct LeastPrivilegeTests {
    /// A LOGIN role holding `role`, created in the test cluster; returns its conninfo for `database`.
    static func login(_ role: AuditRole, database: TestDatabase, on admin: PGConnection) throws -> String {
        let user = "ka_\(role.rawValue)_\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let password = "pw" + UUID().uuidString.prefix(12)
        let create = try admin.query("SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", [user, password])
            .rows[0].decode(0, as: String.self)
        try admin.execute(create)
        _ = try RoleGrant.grant(role, to: user, on: admin)
        return "dbname=\(database.name) user=\(user) password=\(password)"
    }

    /// Export backfill, two nightly runs (collect, analyse, report, alerts) as a `kraken_audit_writer` login:
    /// every step succeeds and the stored ledger equals the simulator's.
    @Test func nightlyJobAndExportBackfillRunAsTheWriterRole() async throws {
        try await NightlyRunTests.withSetup(simulator: {
            $0.permissions = ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "export-data"]
        }) { s in
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            let admin = try s.database.connect()
            defer { admin.close() }
            let writerURL = try Self.login(.writer, database: s.database, on: admin)
            // The same configuration, connecting as the writer; without the account Kraken does not know.
            var toml = try String(contentsOfFile: s.config, encoding: .utf8)
            toml = toml.replacingOccurrences(of: "url = \"\(s.database.url)\"", with: "url = \"\(writerURL)\"")
            let broken = try #require(toml.range(of: "[[account]]\nname = \"broken\""))
            toml = String(toml[..<broken.lowerBound])
            #expect(toml.contains(writerURL) && !toml.contains("broken"))
            try toml.write(toFile: s.config, atomically: true, encoding: .utf8)

            let exports = s.dir.appendingPathComponent("exports").path
            let (backfill, backfillOut) = try await NightlyRunTests.run(
                s, ["collect", "--backfill", "export", "--wait", "--poll-seconds", "1", "--export-dir", exports])
            #expect(backfill == 0, "\(backfillOut)")
            let reports = s.dir.appendingPathComponent("reports").path
            for night in 1...2 {
                let (code, out) = try await NightlyRunTests.run(s, ["run", "--report-dir", reports])
                #expect(code == 0, "night \(night): \(out)")
            }
            for account in ["acct1", "acct2"] {
                let truth = try await s.sim.state.export(account: account)
                let stored = try admin.query(
                    "SELECT count(*) FROM audit.ledger_entries l JOIN audit.accounts a ON a.id = l.account_id WHERE a.name = $1", [account]
                ).rows[0].decode(0, as: Int.self)
                #expect(stored == truth.ledger.count, "\(account)")
            }
            #expect(try admin.query("SELECT count(*) FROM audit.exports WHERE status = 'imported'").rows[0].decode(0, as: Int.self) > 0)
            #expect(
                try admin.query("SELECT count(*) FROM audit.collector_runs WHERE status <> 'success'").rows[0].decode(0, as: Int.self) == 0)
        }
    }

    /// The writer may append to the call log, the finding and status histories and the mismatch log, never
    /// rewrite or remove what is there.
    @Test func writerCannotRewriteTheAppendOnlyTables() async throws {
        let database = try TestDatabase("leastpriv")
        let admin = try database.migrated()
        defer { admin.close() }
        let writer = try PGConnection(url: try Self.login(.writer, database: database, on: admin), logger: TestDatabase.logger)
        defer { writer.close() }
        for (table, column) in [
            ("api_calls", "retry"), ("finding_events", "note"), ("status_history", "status"), ("source_mismatches", "api_value"),
        ] {
            let privileges = try admin.query(
                """
                SELECT string_agg(p, ',' ORDER BY p) FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p
                 WHERE has_table_privilege('kraken_audit_writer', $1::regclass, p)
                """, ["audit.\(table)"]
            ).rows[0].decode(0, as: String.self)
            #expect(privileges == "INSERT,SELECT", "audit.\(table)")
            for sql in ["UPDATE audit.\(table) SET \(column) = \(column)", "DELETE FROM audit.\(table)", "TRUNCATE audit.\(table)"] {
                let error = #expect(throws: PGError.self, "\(sql)") { try writer.execute(sql) }
                #expect(error?.sqlState == "42501", "\(sql): \(String(describing: error))")  // insufficient_privilege
            }
        }
        // The functions that write carry their own search_path, whoever calls them.
        let unpinned = try admin.query(
            """
            SELECT coalesce(string_agg(p.proname, ','), '') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'audit' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
               AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, audit, pg_temp']
            """
        ).rows[0].decode(0, as: String.self)
        #expect(unpinned == "")
        // A mismatch observed again is not an error and not a second row; a changed value is a new row.
        let account = try writer.query("INSERT INTO audit.accounts (name) VALUES ('a') RETURNING id").rows[0].decode(0, as: Int.self)
        let insert = """
            INSERT INTO audit.source_mismatches (account_id, entity, entity_id, field, export_value, api_value, export_id)
            VALUES ($1, 'ledger', 'L1', 'amount', $2, NULL, 'E1') ON CONFLICT DO NOTHING
            """
        #expect(try writer.execute(insert, [account, "1.0"]) == 1)
        #expect(try writer.execute(insert, [account, "1.0"]) == 0)
        #expect(try writer.execute(insert, [account, "2.0"]) == 1)
    }

    /// Another database user creates `public.format(text, integer, text)`, an exact match that would win over
    /// `pg_catalog.format(text, VARIADIC "any")` in overload resolution, and makes `public` (or its own schema)
    /// part of everyone's search_path: the tool's connections still call PostgreSQL's function.
    @Test func toolConnectionsPinSearchPathAgainstShadowing() async throws {
        let database = try TestDatabase("searchpath")
        let admin = try database.connect()
        defer { admin.close() }
        try admin.executeScript(
            """
            CREATE SCHEMA evil;
            CREATE FUNCTION evil.format(text, integer, text) RETURNS text LANGUAGE sql AS $$ SELECT 'shadowed' $$;
            CREATE TABLE evil.take_call (x int);
            ALTER DATABASE \(database.name) SET search_path = evil, public;
            """)
        let probe = "SELECT format('%s-%s', 7::integer, 'a'::text)"
        let db = try database.connect()
        defer { db.close() }
        #expect(try db.query(probe).rows[0].decode(0, as: String.self) == "7-a")
        let path = try db.query("SHOW search_path").rows[0].decode(0, as: String.self)
        #expect(
            path.replacingOccurrences(of: " ", with: "") == PGConnection.pinnedSearchPath.replacingOccurrences(of: " ", with: ""), "\(path)"
        )
        // The attack is real: with that search_path the same call is shadowed.
        try db.executeScript("SET search_path = evil, public")
        #expect(try db.query(probe).rows[0].decode(0, as: String.self) == "shadowed")
        try db.executeScript("RESET search_path")
        #expect(try db.query(probe).rows[0].decode(0, as: String.self) == "7-a")
        // A temporary table cannot shadow an audit table either (pg_temp is searched last).
        try database.migrated().close()
        try db.executeScript("CREATE TEMP TABLE accounts (evil int)")
        #expect(try db.query("SELECT count(*) FROM accounts WHERE id IS NULL").rows[0].decode(0, as: Int.self) == 0)
    }
}
