import Analyser
import AuditStore
import ChildProcesses
import Foundation
import TestSupport
import Testing

/// Issue 18 item 5: the operator script `sql/scale/partition_monthly.sql` turns a populated `audit.api_calls` into
/// monthly range partitions and every guarantee holds afterwards: the rows and their chain hashes, collection into
/// the new partitions, the chain verification, the append-only triggers, the writer's grants, the analyst views
/// and the rules.
@Suite struct PartitioningTests {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static let script = TestDatabase.sqlDirectory.appendingPathComponent("scale/partition_monthly.sql").path
    static let ledgerScript = TestDatabase.sqlDirectory.appendingPathComponent("scale/partition_ledger_monthly.sql").path

    /// Runs the script with psql against `database`, as an operator would, with `variables` (`-v name=value`).
    static func runScript(
        _ database: TestDatabase, _ variables: [String: String] = [:], script: String = PartitioningTests.script
    ) throws -> String {
        var arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database.name]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-v", "\(name)=\(value)"] }
        arguments += ["-f", script]
        // psql talks only to the test cluster: a blocking, bounded wait is fine here (as in AnalystDemo).
        let process = try ChildProcess.start(
            "/usr/bin/env", arguments: arguments, environment: ProcessInfo.processInfo.environment,
            stdout: .capture(limit: 1 << 20), stderr: .capture(limit: 1 << 20))
        let termination = process.waitOrKill(timeout: 120)
        process.waitForOutput(timeout: 10)
        guard termination == .exited(0) else {
            let ended = termination.map { "\($0)" } ?? "at its deadline"
            throw Failure(description: "psql -f \(script) ended \(ended): \(process.stderrText)")
        }
        return process.stdoutText
    }

    /// Rows, and one digest of every row's chain hash in chain order: equal before and after means no row was lost,
    /// added or changed.
    static func fingerprint(_ db: PGConnection, _ table: String) throws -> (rows: Int, digest: String) {
        let r = try db.query(
            "SELECT count(*), md5(coalesce(string_agg(row_hash::text, ',' ORDER BY chain_account, chain_pos), '')) FROM \(table)"
        ).rows[0]
        return (try r.decode(0, as: Int.self), try r.decode(1, as: String.self))
    }

    @Test func apiCallsBecomeMonthlyPartitionsAndEveryGuaranteeHolds() async throws {
        try await withSimulatedCollection(.init(accounts: 2, scale: 150, days: 20, databasePrefix: "partition")) { h in
            #expect(await h.collect().allSatisfy(\.succeeded))
            let before = try Self.fingerprint(h.db, "audit.api_calls")
            let viewRows = try h.count("SELECT count(*) FROM kraken.api_calls")
            #expect(before.rows > 0)

            // The boundary is now, so that the next collection's calls land in a monthly partition.
            let boundary = try h.db.query("SELECT clock_timestamp()::text").rows[0].decode(0, as: String.self)
            _ = try Self.runScript(h.database, ["boundary": boundary, "months_ahead": "2"])

            #expect(
                try h.db.query("SELECT relkind::text FROM pg_class WHERE oid = 'audit.api_calls'::regclass").rows[0]
                    .decode(0, as: String.self) == "p")
            let after = try Self.fingerprint(h.db, "audit.api_calls")
            #expect(after.rows == before.rows && after.digest == before.digest, "every row and hash is still there")
            #expect(try Self.fingerprint(h.db, "audit.api_calls_history").digest == before.digest, "in the history partition")
            #expect(try h.count("SELECT count(*) FROM kraken.api_calls") == viewRows, "the analyst view reads the new table")
            let partitions = try h.count(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit.api_calls'::regclass")
            #expect(partitions >= 4, "history + the boundary's month + 2 months ahead")

            // Collect again: the new calls are chained on from the stored heads, into the month's partition.
            await h.advanceClock(3600)
            #expect(await h.collect().allSatisfy(\.succeeded))
            let grown = try Self.fingerprint(h.db, "audit.api_calls")
            #expect(grown.rows > before.rows)
            #expect(
                try h.count(
                    "SELECT count(*) FROM audit.api_calls WHERE tableoid <> 'audit.api_calls_history'::regclass AND started_at >= $1::timestamptz",
                    [boundary]) == grown.rows - before.rows, "every new call is in a monthly partition")
            #expect(try h.count("SELECT count(*) - count(DISTINCT id) FROM audit.api_calls") == 0)
            #expect(try h.count("SELECT count(*) - count(DISTINCT (chain_account, chain_pos)) FROM audit.api_calls") == 0)
            #expect(
                try h.count(
                    """
                    SELECT count(*) FROM audit.chain_heads h
                     WHERE h.chain = 'api_calls'
                       AND h.position <> (SELECT max(chain_pos) FROM audit.api_calls c WHERE c.chain_account = h.account_id)
                    """) == 0, "the head records follow the partitioned table")

            let chains = try ChainVerifier(db: h.db).verify()
            #expect(chains.problems.isEmpty, "\(chains.problems)")
            #expect(chains.rowsChecked > Int64(grown.rows))

            // Append-only, on the parent and on each partition, for the owner too.
            let newest = try h.db.query(
                "SELECT tableoid::regclass::text FROM audit.api_calls ORDER BY started_at DESC LIMIT 1"
            ).rows[0].decode(0, as: String.self)
            for sql in [
                "UPDATE audit.api_calls SET retry = retry + 1 WHERE id = (SELECT min(id) FROM audit.api_calls)",
                "DELETE FROM audit.api_calls WHERE started_at >= \(Self.literal(boundary))",
                "DELETE FROM audit.api_calls_history WHERE id = (SELECT min(id) FROM audit.api_calls)",
                "UPDATE \(newest) SET bytes = 0",
                "TRUNCATE audit.api_calls", "TRUNCATE audit.api_calls_history", "TRUNCATE \(newest)",
            ] {
                var refused: PGError?
                do { try h.db.executeScript(sql) } catch { refused = error as? PGError }
                #expect(refused?.sqlState == "P0001", "\(sql): \(String(describing: refused))")
            }
            #expect(try Self.fingerprint(h.db, "audit.api_calls").digest == grown.digest)

            // The writer's grants are the old table's; partitions are reached only through the parent.
            let privileges = try h.db.query(
                """
                SELECT has_table_privilege('kraken_audit_writer', 'audit.api_calls', 'INSERT'),
                       has_table_privilege('kraken_audit_writer', 'audit.api_calls', 'SELECT'),
                       has_table_privilege('kraken_audit_writer', 'audit.api_calls', 'UPDATE'),
                       has_table_privilege('kraken_audit_writer', $1, 'SELECT'),
                       has_function_privilege('kraken_audit_writer', 'audit.create_month_partitions(integer)', 'EXECUTE')
                """, [newest]
            ).rows[0]
            #expect(try privileges.decode(0, as: Bool.self) && privileges.decode(1, as: Bool.self))
            #expect(try !privileges.decode(2, as: Bool.self) && !privileges.decode(3, as: Bool.self))
            #expect(try !privileges.decode(4, as: Bool.self))

            // The rules still run (every rule, every account, from the start).
            let catalogue = try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules"))
            let summary = try Analyser(config: h.config, catalogue: catalogue, logger: h.logger, options: AnalyserOptions(alerts: nil))
                .analyse(on: h.db, since: Date(timeIntervalSince1970: 0))
            #expect(summary.failures.isEmpty, "\(summary.failures.map { "\($0.ruleId): \($0.failure ?? "")" })")

            // Idempotent: a second run and the daily call change nothing.
            _ = try Self.runScript(h.database)
            #expect(try h.count("SELECT count(*) FROM audit.create_month_partitions(0)") == 0)
            #expect(try h.count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit.api_calls'::regclass") >= partitions)
            #expect(try Self.fingerprint(h.db, "audit.api_calls").digest == grown.digest)
        }
    }

    /// `sql/scale/partition_ledger_monthly.sql` on a collected ledger: rows, hashes, the current-version view and
    /// its INSERT/UPDATE path, the cross-partition uniqueness of (account, ledger id, version), the chains and the
    /// rules hold. A column-list `ON CONFLICT (account_id, ledger_id, version)` has no matching unique index any
    /// more (42P10), which is why the collector names the constraint (`ON CONFLICT ON CONSTRAINT
    /// ledger_entry_versions_pkey`, same on both layouts): collecting again after the conversion works.
    @Test func ledgerVersionsBecomeMonthlyPartitionsByHand() async throws {
        try await withSimulatedCollection(.init(accounts: 2, scale: 150, days: 20, databasePrefix: "partledger")) { h in
            #expect(await h.collect().allSatisfy(\.succeeded))
            let before = try Self.fingerprint(h.db, "audit.ledger_entry_versions")
            let current = try h.count("SELECT count(*) FROM audit.ledger_entries")
            let analystRows = try h.count("SELECT count(*) FROM kraken.ledger")
            #expect(before.rows > 0)
            // Before: the named constraint is what the collector could use instead of the column list.
            let sample =
                "SELECT account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance, raw FROM audit.ledger_entry_versions ORDER BY chain_account, chain_pos LIMIT 1"
            let columns = "account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance, raw"
            let onConstraint =
                "INSERT INTO audit.ledger_entry_versions (\(columns)) \(sample) ON CONFLICT ON CONSTRAINT ledger_entry_versions_pkey DO NOTHING"
            try h.db.executeScript(onConstraint)

            let boundary = try h.db.query("SELECT clock_timestamp()::text").rows[0].decode(0, as: String.self)
            _ = try Self.runScript(h.database, ["boundary": boundary])
            _ = try Self.runScript(h.database, ["boundary": boundary], script: Self.ledgerScript)

            #expect(
                try h.db.query("SELECT relkind::text FROM pg_class WHERE oid = 'audit.ledger_entry_versions'::regclass").rows[0]
                    .decode(0, as: String.self) == "p")
            let after = try Self.fingerprint(h.db, "audit.ledger_entry_versions")
            #expect(after.rows == before.rows && after.digest == before.digest)
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries") == current)
            #expect(try h.count("SELECT count(*) FROM kraken.ledger") == analystRows)

            // The collector's statement today: no unique index matches its column list any more.
            var inference: PGError?
            do {
                try h.db.executeScript(
                    "INSERT INTO audit.ledger_entry_versions (\(columns)) \(sample) ON CONFLICT (account_id, ledger_id, version) DO NOTHING"
                )
            } catch { inference = error as? PGError }
            #expect(inference?.sqlState == "42P10", "\(String(describing: inference))")
            // The proposed one: a stored version is skipped, as before.
            try h.db.executeScript(onConstraint)
            #expect(try Self.fingerprint(h.db, "audit.ledger_entry_versions").digest == before.digest)

            // The same version of a stored entry with another time (another partition): refused under the chain lock.
            var duplicate: PGError?
            do {
                try h.db.executeScript(
                    """
                    INSERT INTO audit.ledger_entry_versions (\(columns))
                    SELECT account_id, ledger_id, refid, now(), type, subtype, aclass, asset, amount, fee, balance, raw
                      FROM audit.ledger_entry_versions ORDER BY chain_account, chain_pos LIMIT 1
                    ON CONFLICT ON CONSTRAINT ledger_entry_versions_pkey DO NOTHING
                    """)
            } catch { duplicate = error as? PGError }
            #expect(duplicate?.sqlState == "23505", "\(String(describing: duplicate))")

            // New entries and a new version through the current-version view land in the month's partition.
            let account = try h.accountId(h.sim.accounts[0].name)
            try h.db.executeScript(
                """
                INSERT INTO audit.ledger_entries (account_id, ledger_id, refid, time, type, asset, amount, fee, balance, raw)
                SELECT \(account), 'LPART' || g, 'RPART' || g, now() + g * interval '1 second', 'adjustment', 'ZEUR', 0, 0, 0, '{}'
                  FROM generate_series(1, 5) g;
                UPDATE audit.ledger_entries SET amount = 0.00 WHERE ledger_id = 'LPART1';
                """)
            #expect(
                try h.count(
                    "SELECT count(*) FROM audit.ledger_entry_versions WHERE tableoid <> 'audit.ledger_entry_versions_history'::regclass"
                ) == 6)
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries") == current + 5)
            #expect(try h.count("SELECT count(*) - count(DISTINCT (account_id, ledger_id, version)) FROM audit.ledger_entry_versions") == 0)
            #expect(try h.count("SELECT count(*) - count(DISTINCT (chain_account, chain_pos)) FROM audit.ledger_entry_versions") == 0)

            // The collector stores into the partitioned table (new activity, and what it already holds skipped).
            await h.advanceClock(3 * 86400)
            let again = await h.collect()
            let failures = again.compactMap { $0.error.map { "\($0)" } }
            #expect(failures.isEmpty, "\(failures)")
            for a in h.sim.accounts {
                let truth = try await h.sim.state.export(account: a.name).ledger
                let stored = try h.count(
                    "SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1 AND ledger_id NOT LIKE 'LPART%'",
                    [try h.accountId(a.name)])
                #expect(stored == truth.count, "\(a.name)")
            }

            let chains = try ChainVerifier(db: h.db).verify()
            #expect(chains.problems.isEmpty, "\(chains.problems)")

            for sql in [
                "UPDATE audit.ledger_entry_versions SET amount = 0 WHERE ledger_id = 'LPART2'",
                "DELETE FROM audit.ledger_entry_versions_history WHERE chain_pos = 1",
                "DELETE FROM audit.ledger_entries WHERE ledger_id = 'LPART3'",
                "TRUNCATE audit.ledger_entry_versions", "TRUNCATE audit.ledger_entry_versions_history",
            ] {
                var refused: PGError?
                do { try h.db.executeScript(sql) } catch { refused = error as? PGError }
                #expect(refused?.sqlState == "P0001", "\(sql): \(String(describing: refused))")
            }

            let catalogue = try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules"))
            let summary = try Analyser(config: h.config, catalogue: catalogue, logger: h.logger, options: AnalyserOptions(alerts: nil))
                .analyse(on: h.db, since: Date(timeIntervalSince1970: 0))
            #expect(summary.failures.isEmpty, "\(summary.failures.map { "\($0.ruleId): \($0.failure ?? "")" })")
        }
    }

    /// `text` as an SQL string literal (test-made values only).
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
