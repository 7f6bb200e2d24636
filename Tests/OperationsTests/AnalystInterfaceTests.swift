import AuditStore
import Foundation
import Operations
import TestSupport
import Testing

/// Issue 8: the analysts' views (schema `kraken`), the roles, the example queries and the Grafana dashboards,
/// against the demo data of ``AnalystDemo`` and connected as real login roles.
@Suite struct AnalystInterfaceTests {
    static let repository = TestDatabase.sqlDirectory.deletingLastPathComponent()
    static let historyEnd = Date(timeIntervalSince1970: TimeInterval(AnalystDemo.end))

    /// A statement as `login` must fail with SQLSTATE `state` (or any error when nil).
    func expectRefused(_ db: PGConnection, _ sql: String, state: String? = "42501", sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try db.execute(sql)
            Issue.record("allowed but should be refused: \(sql)", sourceLocation: sourceLocation)
        } catch {
            if let state { #expect(error.sqlState == state, "\(sql): \(error)", sourceLocation: sourceLocation) }
        }
    }

    // MARK: - views

    @Test func everyViewAndColumnIsDocumentedAndNothingSensitiveIsExposed() async throws {
        let demo = try await AnalystDemo.shared.value
        let db = try demo.admin()
        defer { db.close() }
        let views = try db.query(
            "SELECT c.relname, c.relkind::text, obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.relnamespace = 'kraken'::regnamespace ORDER BY 1"
        ).rows
        let names = try views.map { try $0.decode(0, as: String.self) }
        for required in [
            "ledger", "trades", "orders", "withdrawals", "deposits", "balances_daily", "trading_daily",
            "findings_open", "api_usage_hourly", "collection_health",
        ] {
            #expect(names.contains(required), "missing view kraken.\(required)")
        }
        for row in views {
            let name = try row.decode(0, as: String.self)
            #expect(try row.decode(1, as: String.self) == "v", "kraken.\(name) is not a view: the schema holds views only")
            #expect((try row.decodeOptional(2, as: String.self) ?? "").count > 20, "kraken.\(name) has no COMMENT")
        }
        let undocumented = try db.query(
            """
            SELECT c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = 'kraken'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
               AND coalesce(col_description(c.oid, a.attnum), '') = '' ORDER BY 1
            """
        ).rows.map { try $0.decode(0, as: String.self) }
        #expect(undocumented.isEmpty, "columns without COMMENT: \(undocumented)")
        let sensitive = try db.query(
            """
            SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_schema = 'kraken'
               AND (column_name IN ('raw', 'params', 'secret', 'api_key', 'last_nonce', 'originators', 'stats')
                    OR (data_type IN ('json', 'jsonb') AND column_name NOT IN ('evidence', 'errors_by_kind')))
            """
        ).rows.map { try $0.decode(0, as: String.self) }
        #expect(sensitive.isEmpty, "raw JSON or key material in the analyst views: \(sensitive)")
    }

    @Test func balancesDailyCarriesTheLedgerBalanceForward() async throws {
        let demo = try await AnalystDemo.shared.value
        let db = try demo.reader.connect()
        defer { db.close() }
        // Every (account, asset, day) of balances_daily equals the balance after the last ledger entry up to the
        // end of that UTC day, recomputed independently from kraken.ledger.
        let mismatches = try db.query(
            """
            SELECT count(*) FROM kraken.balances_daily b
             WHERE b.balance IS DISTINCT FROM (
                   SELECT l.balance FROM kraken.ledger l
                    WHERE l.account_id = b.account_id AND l.asset = b.asset
                      AND l.time < (b.day + 1)::timestamp AT TIME ZONE 'UTC'
                    ORDER BY l.time DESC, l.ledger_id DESC LIMIT 1)
            """
        ).rows[0].decode(0, as: Int.self)
        #expect(mismatches == 0)
        let shape = try db.query(
            """
            SELECT count(*), count(DISTINCT (account_id, asset, day)), count(*) FILTER (WHERE entries = 0),
                   bool_and(day <= (now() AT TIME ZONE 'UTC')::date)
              FROM kraken.balances_daily
            """
        ).rows[0]
        #expect(try shape.decode(0, as: Int.self) == shape.decode(1, as: Int.self), "one row per account, asset and day")
        #expect(try shape.decode(2, as: Int.self) > 0, "days without entries are filled")
        #expect(try shape.decode(3, as: Bool.self))
        // trading_daily adds up to the trades.
        let totals = try db.query(
            "SELECT (SELECT sum(trades) FROM kraken.trading_daily) = (SELECT count(*) FROM kraken.trades), (SELECT sum(fees) FROM kraken.trading_daily) = (SELECT sum(fee) FROM kraken.trades)"
        ).rows[0]
        #expect(try totals.decode(0, as: Bool.self) && totals.decode(1, as: Bool.self))
        // api_usage_hourly counts every call and sees the injected HTTP 520s.
        let usage = try db.query(
            "SELECT (SELECT sum(calls) FROM kraken.api_usage_hourly) = (SELECT count(*) FROM kraken.api_calls), (SELECT sum(transport_errors) FROM kraken.api_usage_hourly), (SELECT sum((errors_by_kind->>'http')::int) FROM kraken.api_usage_hourly)"
        ).rows[0]
        #expect(try usage.decode(0, as: Bool.self))
        #expect(try usage.decode(1, as: Int.self) >= 3, "the injected HTTP 520s and EService:Unavailable")
        #expect(try usage.decode(2, as: Int.self) >= 2)
        let health = try db.query(
            "SELECT count(*), count(last_success_at), bool_and(freshness_hours < 1) FROM kraken.collection_health WHERE endpoint IN ('Ledgers', 'TradesHistory')"
        ).rows[0]
        #expect(try health.decode(0, as: Int.self) == 2 * demo.accounts.count)
        #expect(try health.decode(1, as: Int.self) == 2 * demo.accounts.count)
        #expect(try health.decode(2, as: Bool.self))
    }

    // MARK: - roles

    @Test func readerReadsTheViewsAndNothingElse() async throws {
        let demo = try await AnalystDemo.shared.value
        let admin = try demo.admin()
        defer { admin.close() }
        let views = try admin.query("SELECT relname FROM pg_class WHERE relnamespace = 'kraken'::regnamespace ORDER BY 1").rows
            .map { try $0.decode(0, as: String.self) }
        let tables = try admin.query("SELECT tablename FROM pg_tables WHERE schemaname = 'audit' ORDER BY 1").rows
            .map { try $0.decode(0, as: String.self) }
        #expect(tables.contains("api_keys"))

        let reader = try demo.reader.connect()
        defer { reader.close() }
        for view in views {
            _ = try reader.query("SELECT * FROM kraken.\(view) LIMIT 1")  // names from the catalogue, [a-z_]
        }
        #expect(try reader.query("SELECT count(*) FROM kraken.ledger").rows[0].decode(0, as: Int.self) > 0)
        for table in tables {
            expectRefused(reader, "SELECT * FROM audit.\(table) LIMIT 1")
        }
        expectRefused(reader, "SELECT key_fingerprint, last_nonce FROM audit.api_keys")
        expectRefused(reader, "SELECT * FROM audit.take_call('sha256:0000000000000000', 1, 20, 1, 0, 1, gen_random_uuid(), 5)")
        expectRefused(reader, "SELECT audit.counter_exceeded('sha256:0000000000000000', 20)")
        expectRefused(reader, "INSERT INTO kraken.accounts (account_id, account) VALUES (999, 'x')")
        expectRefused(reader, "UPDATE kraken.accounts SET account = 'x'")
        expectRefused(reader, "DELETE FROM kraken.accounts")
        expectRefused(reader, "UPDATE kraken.withdrawals SET status = 'x'", state: nil)
        expectRefused(reader, "DELETE FROM kraken.ledger", state: nil)
        expectRefused(reader, "INSERT INTO audit.findings (rule_id, severity, title, dedupe_key) VALUES ('x', 'low', 'x', 'x')")
        expectRefused(reader, "CREATE TABLE kraken.mine (i int)")
        expectRefused(reader, "CREATE VIEW kraken.mine AS SELECT 1")
        expectRefused(reader, "CREATE TABLE audit.mine (i int)")
        expectRefused(reader, "DROP VIEW kraken.ledger")
        expectRefused(reader, "ALTER VIEW kraken.ledger RENAME TO gone")
        // Nothing changed.
        #expect(try admin.query("SELECT count(*) FROM kraken.accounts").rows[0].decode(0, as: Int.self) == demo.accounts.count)
        #expect(try admin.query("SELECT count(*) FROM audit.withdrawals WHERE status = 'x'").rows[0].decode(0, as: Int.self) == 0)
    }

    @Test func writerWritesRowsButNotTheSchema() async throws {
        let demo = try await AnalystDemo.shared.value
        let writer = try demo.writer.connect()
        defer { writer.close() }
        // What the collector and analyser do: read, insert with serial ids, upsert, call the pacing function,
        // stage through temporary tables. Rolled back at the end.
        try writer.executeScript("BEGIN")
        let id = try writer.query("INSERT INTO audit.accounts (name) VALUES ('writer-test') RETURNING id").rows[0].decode(0, as: Int.self)
        try writer.execute("UPDATE audit.accounts SET name = 'writer-test-2' WHERE id = $1", [id])
        try writer.execute(
            "INSERT INTO audit.api_keys (account_id, name, key_fingerprint) VALUES ($1, 'k', 'sha256:00000000000000ff') ON CONFLICT (key_fingerprint) DO UPDATE SET name = EXCLUDED.name",
            [id])
        let nonce = try writer.query("SELECT nonce FROM audit.take_call('sha256:00000000000000ff', 1, 20, 1, 5, 1, gen_random_uuid(), 5)").rows[0]
            .decode(0, as: Int64.self)
        #expect(nonce >= 5)
        _ = try writer.query("SELECT count(*) FROM kraken.findings_open")
        try writer.executeScript("CREATE TEMP TABLE stage_test (i int); ROLLBACK")

        for sql in [
            // (audit.trades is the current-version view of audit.trade_versions since migration 0012.)
            "DROP TABLE audit.trade_versions", "ALTER TABLE audit.trade_versions ADD COLUMN extra int", "CREATE TABLE audit.mine (i int)",
            "CREATE INDEX mine ON audit.trade_versions (fee)", "DROP VIEW audit.trades",
            // Restating an object's current value is the owner's (it appends a version), not the writer's.
            "UPDATE audit.ledger_entries SET amount = amount", "TRUNCATE audit.api_calls",
            "DELETE FROM audit.findings",
            "INSERT INTO audit.schema_migrations (version, name, checksum, duration_ms) VALUES (9999, 'x', 'x', 0)",
            "DROP VIEW kraken.ledger", "CREATE VIEW kraken.mine AS SELECT 1", "ALTER FUNCTION audit.take_call RENAME TO gone",
        ] {
            expectRefused(writer, sql)
        }
        // Without grant options a GRANT only warns ("no privileges were granted"): check nothing was granted.
        try writer.execute("GRANT SELECT ON audit.api_keys TO PUBLIC")
        let admin = try demo.admin()
        defer { admin.close() }
        let publicGrants = try admin.query(
            "SELECT count(*) FROM aclexplode((SELECT relacl FROM pg_class WHERE oid = 'audit.api_keys'::regclass)) WHERE grantee = 0"
        ).rows[0].decode(0, as: Int.self)
        #expect(publicGrants == 0)
    }

    @Test func grantQuotesTheNameOnTheServerAndChecksIt() async throws {
        let demo = try await AnalystDemo.shared.value
        let admin = try demo.admin()
        defer { admin.close() }
        let odd = "ka \"odd\" o'name; DROP TABLE audit.trades -- \(UInt16.random(in: 0...UInt16.max))"
        try admin.execute(try admin.query("SELECT format('CREATE ROLE %I LOGIN', $1::text)", [odd]).rows[0].decode(0, as: String.self))
        let granted = try RoleGrant.grant(.reader, to: odd, on: admin)
        #expect(granted == GrantOutcome(role: "kraken_audit_reader", grantee: odd, changed: true, granteeCanLogin: true))
        #expect(try RoleGrant.isMember(odd, of: .reader, on: admin))
        #expect(try !RoleGrant.isMember(odd, of: .writer, on: admin))
        #expect(try RoleGrant.grant(.reader, to: odd, on: admin).changed == false)
        #expect(try RoleGrant.revoke(.reader, from: odd, on: admin).changed == true)
        #expect(try !RoleGrant.isMember(odd, of: .reader, on: admin))
        #expect(try admin.query("SELECT to_regclass('audit.trades') IS NOT NULL").rows[0].decode(0, as: Bool.self))

        #expect(throws: GrantError.granteeMissing("x; DROP TABLE audit.trades")) {
            try RoleGrant.grant(.reader, to: "x; DROP TABLE audit.trades", on: admin)
        }
        #expect(throws: GrantError.invalidName("")) { try RoleGrant.grant(.reader, to: "", on: admin) }
        #expect(throws: GrantError.invalidName(String(repeating: "a", count: 64))) {
            try RoleGrant.grant(.writer, to: String(repeating: "a", count: 64), on: admin)
        }
        // A role without CREATEROLE cannot hand the role out.
        let reader = try demo.reader.connect()
        defer { reader.close() }
        do {
            _ = try RoleGrant.grant(.writer, to: demo.reader.user, on: reader)
            Issue.record("the reader granted itself the writer role")
        } catch {
            guard case .notAllowed = error else { Issue.record("expected notAllowed, got \(error)"); return }
            #expect(error.exitStatus == .unavailable)
        }
        #expect(try !RoleGrant.isMember(demo.reader.user, of: .writer, on: admin))
    }

    // MARK: - example queries

    /// Variables per query file; every file gets `as_of` = the history end unless it sets its own.
    func queryVariables(_ file: String, demo: AnalystDemo) throws -> (variables: [String: String], minRows: Int) {
        let end = GrafanaSQL.rfc3339(Self.historyEnd)
        switch file {
        case "api_errors_per_key_per_day.sql":
            // The call log is written now, not at the history's end.
            return (["as_of": GrafanaSQL.rfc3339(Date().addingTimeInterval(3600))], 1)
        case "off_hours_trades_this_quarter.sql":
            // The simulator's business hours; the DST-autumn trade (07:30 local, 26 Oct) is off hours this quarter.
            return (["as_of": end, "timezone": "Europe/Berlin", "day_start": "08:00", "day_end": "20:00"], 1)
        case "activity_around_finding.sql":
            let admin = try demo.admin()
            defer { admin.close() }
            let id = try admin.query(
                "SELECT finding_id FROM kraken.findings WHERE entity_type = 'withdrawal' ORDER BY finding_id LIMIT 1"
            ).rows[0].decode(0, as: Int64.self)
            // At least the withdrawal itself and its ledger entry.
            return (["finding_id": String(id)], 2)
        case "balance_history.sql":
            return (["as_of": end, "asset": "XXBT", "days": "90"], 90)
        case "reconciliation_trades_ledger.sql":
            return ([:], 3)
        default:
            return (["as_of": end], 1)
        }
    }

    @Test func everyExampleQueryRunsAsTheReaderAndReturnsRows() async throws {
        let demo = try await AnalystDemo.shared.value
        let dir = TestDatabase.sqlDirectory.appendingPathComponent("queries")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count >= 8)
        for file in files {
            let path = dir.appendingPathComponent(file).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("-- Question: "), "\(file) starts with the question it answers")
            #expect(!text.contains("audit."), "\(file) must query the kraken views only")
            let (variables, minRows) = try queryVariables(file, demo: demo)
            let rows = try PSQL.run(file: path, variables: variables, as: demo.reader)
            #expect(rows.count >= minRows, "\(file) returned \(rows.count) rows, expected at least \(minRows)")
            // Runnable as documented with no -v at all (defaults; may legitimately return nothing today).
            _ = try PSQL.run(file: path, variables: [:], as: demo.reader)
        }
    }

    @Test func reconciliationFindsExactlyThePlantedGaps() async throws {
        let demo = try await AnalystDemo.shared.value
        let path = TestDatabase.sqlDirectory.appendingPathComponent("queries/reconciliation_trades_ledger.sql").path
        let rows = try PSQL.run(file: path, variables: [:], as: demo.reader)
        let found = Set(rows.map { "\($0[0]) \($0[0].hasPrefix("ledger") ? $0[4] : $0[3])" })
        #expect(
            found == ["ledger entry without trade \(demo.removedTradeId)", "trade without ledger entries \(AnalystDemo.orphanTradeId)"])
        #expect(rows.count == 3, "two ledger entries of the removed trade and the orphan trade: \(rows)")
    }

    // MARK: - Grafana

    @Test func grafanaMacrosExpandLikeGrafana() throws {
        let g = GrafanaSQL(
            from: Date(timeIntervalSince1970: 1_500_376_552), to: Date(timeIntervalSince1970: 1_500_376_552.5),
            variables: [
                "account": .init(name: "account", values: ["main", "o'brien"], isMulti: true),
                "asset": .init(name: "asset", values: ["XXBT"], isMulti: false),
            ])
        #expect(try g.expand("WHERE $__timeFilter(time)") == "WHERE time BETWEEN '2017-07-18T11:15:52Z' AND '2017-07-18T11:15:52.5Z'")
        #expect(try g.expand("$__timeFrom() $__timeTo()") == "'2017-07-18T11:15:52Z' '2017-07-18T11:15:52.5Z'")
        #expect(try g.expand("SELECT $__timeGroupAlias(hour, '1h')") == "SELECT floor(extract(epoch from hour)/3600)*3600 AS \"time\"")
        #expect(try g.expand("GROUP BY $__timeGroup(day, '1d')") == "GROUP BY floor(extract(epoch from day)/86400)*86400")
        #expect(try g.expand("SELECT $__timeGroup(day, '1d'), x") == "SELECT floor(extract(epoch from day)/86400)*86400 AS \"time\", x")
        #expect(try g.expand("$__time(day)") == "day AS \"time\"")
        #expect(
            try g.expand("account IN ($account) AND asset = '$asset' AND a IN (${account}) AND [[asset]] = 1")
                == "account IN ('main','o''brien') AND asset = 'XXBT' AND a IN ('main','o''brien') AND XXBT = 1")
        #expect(GrafanaSQL.goFloat(604_800) == "604800")
        #expect(GrafanaSQL.goFloat(2_592_000) == "2.592e+06")
        #expect(throws: GrafanaSQL.ExpansionError.self) { try g.expand("$__interval") }
        #expect(throws: GrafanaSQL.ExpansionError.self) { try g.expand("$__nope(x)") }
        #expect(throws: GrafanaSQL.ExpansionError.self) { try g.expand("${account:csv}") }
    }

    @Test func everyDashboardPanelRunsAsTheReaderAndReturnsRows() async throws {
        let demo = try await AnalystDemo.shared.value
        let reader = try demo.reader.connect()
        defer { reader.close() }
        let dir = Self.repository.appendingPathComponent("dashboards")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 2)
        // The dashboards' time range in this test: the whole history up to now (the call log is written now).
        let from = Date(timeIntervalSince1970: TimeInterval(AnalystDemo.end - Int64(AnalystDemo.days + 1) * 86_400))
        let to = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) + 3600)
        var panelsRun = 0
        for file in files {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            guard let dashboard = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                Issue.record("\(file) is not a JSON object"); continue
            }
            #expect(dashboard["uid"] is String, "\(file) has a uid")
            // Template variables, in order (later ones may use earlier ones); "All" = every value.
            var all: [String: GrafanaSQL.Variable] = [:]
            var first: [String: GrafanaSQL.Variable] = [:]
            let templating = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
            for v in templating where v["type"] as? String == "query" {
                let name = try #require(v["name"] as? String)
                let sql = try #require(v["query"] as? String ?? (v["query"] as? [String: Any])?["rawSql"] as? String)
                let expanded = try GrafanaSQL(from: from, to: to, variables: all).expand(sql)
                let values = try reader.query(expanded).rows.compactMap { try $0.decodeOptional(0, as: String.self) }
                #expect(!values.isEmpty, "\(file): variable \(name) has no values")
                let multi = (v["multi"] as? Bool ?? false) || (v["includeAll"] as? Bool ?? false)
                all[name] = .init(name: name, values: values, isMulti: multi)
                first[name] = .init(name: name, values: Array(values.prefix(1)), isMulti: multi)
            }
            #expect(all["account"] != nil, "\(file) has an account variable")
            var panels = dashboard["panels"] as? [[String: Any]] ?? []
            var index = 0
            while index < panels.count {  // rows nest their panels
                panels += panels[index]["panels"] as? [[String: Any]] ?? []
                index += 1
            }
            for panel in panels {
                let title = panel["title"] as? String ?? "?"
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    guard let sql = target["rawSql"] as? String else { continue }
                    #expect(!sql.contains("audit."), "\(file) / \(title): panels query the kraken views only")
                    do {
                        let rows = try reader.query(try GrafanaSQL(from: from, to: to, variables: all).expand(sql)).rows
                        #expect(!rows.isEmpty, "\(file) / \(title): no rows with every account and asset selected")
                        _ = try reader.query(try GrafanaSQL(from: from, to: to, variables: first).expand(sql))
                        panelsRun += 1
                    } catch {
                        Issue.record("\(file) / \(title): \(error)")
                    }
                }
            }
        }
        #expect(panelsRun >= 10)
    }
}
