import Analyser
import AuditStore
import ChildProcesses
import Foundation
import TestSupport
import Testing

/// Issue 18 item 5: every rule is account-local in what it finds. One database holds two collected accounts (the
/// simulator's planted history anomalies in both); a copy of it has the second account's rows removed. Every rule,
/// run for the first account in both, must find exactly the same (rule, key, severity, title, entity, evidence,
/// event time, calls). This is the semantic half of the README's locality table (no finding depends on another
/// account's rows); the syntactic half (does each join carry account_id, which Citus needs to co-locate it) is the
/// table itself.
@Suite struct AccountLocalityTests {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// What a finding says, without detection times and row ids (the same in both databases, since one is a copy).
    static func findings(_ db: PGConnection, accountId: Int) throws -> [String] {
        try db.query(
            """
            SELECT concat_ws(' | ', rule_id, dedupe_key, severity, title, entity_type, entity_id, evidence::text,
                             occurred_at::text, api_call_ids::text)
              FROM audit.findings WHERE account_id = $1 ORDER BY rule_id, dedupe_key
            """, [accountId]
        ).rows.map { try $0.decode(0, as: String.self) }
    }

    /// Copies `from` into `to` with pg_dump | psql (the data is loaded before the triggers exist, as in a restore).
    static func copy(_ from: TestDatabase, to: TestDatabase) throws {
        let command = "pg_dump --no-owner \"$1\" | psql -X -q -v ON_ERROR_STOP=1 -d \"$2\" >/dev/null"
        let process = try ChildProcess.start(
            "/bin/bash", arguments: ["-c", "set -o pipefail; " + command, "copy", from.name, to.name],
            environment: ProcessInfo.processInfo.environment, stdout: .capture(limit: 1 << 20), stderr: .capture(limit: 1 << 20))
        // Both databases are in the test cluster: a blocking, bounded wait is fine here.
        let termination = process.waitOrKill(timeout: 180)
        process.waitForOutput(timeout: 10)
        guard termination == .exited(0) else {
            throw Failure(description: "pg_dump | psql ended \(termination.map { "\($0)" } ?? "at its deadline"): \(process.stderrText)")
        }
    }

    @Test func everyRuleFindsTheSameForAnAccountWithOrWithoutAnotherAccountsRows() async throws {
        let setup = SimulatedCollection.Setup(accounts: 2, scale: 300, days: 60, databasePrefix: "locality")
        try await withSimulatedCollection(setup) { h in
            #expect(await h.collect().allSatisfy(\.succeeded))
            let (a, b) = (h.sim.accounts[0].name, h.sim.accounts[1].name)
            let (aId, bId) = (try h.accountId(a), try h.accountId(b))
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1", [bId]) > 0)

            // The other account gets look-alikes of the first one's rows (same pairs, assets, addresses, amounts),
            // 30 and 400 days earlier: a rule that mixed accounts into a baseline, a "first ever" or a history
            // would find something else for the first account with them present.
            try h.db.executeScript(
                """
                DO $$
                DECLARE
                    t record;
                    shift integer;
                    times text;
                BEGIN
                    FOR t IN SELECT * FROM (VALUES ('ledger_entry_versions', 'ledger_id'), ('trade_versions', 'txid'),
                                                   ('order_versions', 'txid'), ('withdrawal_versions', 'refid'),
                                                   ('deposit_versions', 'refid')) v(versions, key) LOOP
                        FOREACH shift IN ARRAY ARRAY[30, 400] LOOP
                            -- Every event time (time, opentm, closetm, ...), not the bookkeeping ones. No chain
                            -- position: the row trigger links each copy into B's chain (migration 0014).
                            SELECT string_agg(format(', %L, x.%I - make_interval(days => %s)', attname, attname, shift), '')
                              INTO times FROM pg_attribute
                             WHERE attrelid = format('audit.%I', t.versions)::regclass AND attnum > 0 AND NOT attisdropped
                               AND atttypid = 'timestamptz'::regtype
                               AND attname NOT IN ('first_seen_at', 'updated_at', 'chained_at');
                            EXECUTE format(
                                'INSERT INTO audit.%1$I SELECT (jsonb_populate_record(NULL::audit.%1$I, to_jsonb(x) || '
                                'jsonb_build_object(''account_id'', %2$s, ''chain_pos'', NULL, %3$L, ''B'' || %4$s || x.%3$I %6$s))).* '
                                'FROM audit.%1$I x WHERE x.account_id = %5$s',
                                t.versions, \(bId), t.key, shift, \(aId), times);
                        END LOOP;
                    END LOOP;
                END
                $$;
                """)

            let alone = try TestDatabase("localityalone")
            try Self.copy(h.database, to: alone)
            let db = try alone.connect()
            defer { db.close() }
            // The copy without the other account: its rows removed with the append-only triggers off (a superuser's
            // session_replication_role, which the throw-away cluster's user has).
            try db.executeScript(
                """
                SET session_replication_role = replica;
                DO $$
                DECLARE
                    t record;
                BEGIN
                    FOR t IN SELECT c.relname, bool_or(a.attname = 'account_id') AS by_account
                               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'audit'
                               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname IN ('account_id', 'chain_account')
                              WHERE c.relkind = 'r' GROUP BY c.relname LOOP
                        EXECUTE format('DELETE FROM audit.%I WHERE %I = %s', t.relname,
                                       CASE WHEN t.by_account THEN 'account_id' ELSE 'chain_account' END, \(bId));
                    END LOOP;
                    DELETE FROM audit.accounts WHERE id = \(bId);
                END
                $$;
                RESET session_replication_role;
                """)
            #expect(
                try db.query("SELECT count(*) FROM audit.ledger_entry_versions WHERE account_id = $1", [bId]).rows[0].decode(
                    0, as: Int.self) == 0)

            let catalogue = try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules"))
            let now = Date(timeIntervalSince1970: Double(h.setup.historyEnd) + 86_400)
            var found: [[String]] = []
            for target in [h.db, db] {
                let summary = try Analyser(config: h.config, catalogue: catalogue, logger: h.logger, options: AnalyserOptions(alerts: nil))
                    .analyse(on: target, accounts: [a], since: Date(timeIntervalSince1970: 0), now: now)
                #expect(summary.failures.isEmpty, "\(summary.failures.map { "\($0.ruleId): \($0.failure ?? "")" })")
                found.append(try Self.findings(target, accountId: aId))
            }
            #expect(!found[0].isEmpty, "the planted anomalies give the account findings to compare")
            // Compared as sets, reported briefly (the findings' evidence is long).
            let onlyWith = Set(found[0]).subtracting(found[1]).sorted()
            let onlyWithout = Set(found[1]).subtracting(found[0]).sorted()
            #expect(found[0].count == found[1].count, "with the other account: \(found[0].count), without: \(found[1].count)")
            #expect(onlyWith.isEmpty, "found only with the other account's rows: \(onlyWith.prefix(3).map { $0.prefix(300) })")
            #expect(onlyWithout.isEmpty, "found only without the other account's rows: \(onlyWithout.prefix(3).map { $0.prefix(300) })")
        }
    }
}
