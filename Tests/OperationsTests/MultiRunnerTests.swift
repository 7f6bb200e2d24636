import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import TestSupport
import Testing

/// Issue 18: several `kraken-audit run` processes on one database share the night's accounts. The real binary,
/// the simulator over HTTP, a real PostgreSQL.
@Suite struct MultiRunnerTests {
    /// Three runners started together on 300 accounts; one is killed (SIGKILL) mid-night. Every account is
    /// collected exactly once in the night (no account skipped, no second successful collection), the killed
    /// runner's accounts are finished by the others, and the night's report and analysis are made once.
    @Test func threeRunnersShareTheNightAndFinishAKilledOnesAccounts() async throws {
        let accounts = 300
        // A counter that binds a little (each account takes a second or so), so the kill lands mid-night; at most 20
        // accounts at once per runner, so each runner holds a share of them in flight.
        try await NightlyRunTests.withSetup(
            decay: 40, brokenAccount: false, opsConfig: "max_concurrent_accounts = 20",
            simulator: {
                $0.accounts = accounts
                $0.scale = 12
                $0.days = 20
            }
        ) { s in
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            let db = try s.database.connect()
            let runners = try (0..<3).map { _ in try NightlyRunTests.launch(s, ["run"]) }
            // Kill the first runner once it has finished some accounts and holds others.
            let deadline = Date().addingTimeInterval(120)
            var killedAt = 0
            while Date() < deadline {
                let done = try db.query("SELECT count(*) FROM audit.night_accounts").rows[0].decode(0, as: Int.self)
                let mine = try db.query(
                    """
                    SELECT count(*) FROM audit.night_accounts a JOIN audit.collector_runs r ON r.id = a.run_id WHERE r.pid = $1
                    """, [Int(runners[0].pid)]
                ).rows[0].decode(0, as: Int.self)
                if mine >= 5 && done >= accounts / 5 {
                    killedAt = done
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(killedAt > 0 && killedAt < accounts, "the kill should land mid-night (at \(killedAt))")
            runners[0].signal(SIGKILL)
            let killed = await NightlyRunTests.finish(runners[0])
            #expect(killed.0 == 128 + SIGKILL)
            var finished: [(Int32, String)] = []
            for r in runners.dropFirst() { finished.append(await NightlyRunTests.finish(r, timeout: 300)) }
            for (code, out) in finished { #expect(code == 0 || code == 5, "\(out)") }

            // One night, every account recorded exactly once, all successful.
            let nights = try db.query("SELECT id, state, finisher_run_id FROM audit.nights").rows
            #expect(nights.count == 1)
            let night = try nights[0].decode(0, as: Int64.self)
            #expect(try nights[0].decode(1, as: String.self) == "finished")
            let recorded = try db.query(
                "SELECT count(*), count(DISTINCT account_id), count(*) FILTER (WHERE status = 'success') FROM audit.night_accounts WHERE night_id = $1",
                [night]
            ).rows[0]
            #expect(try recorded.decode(0, as: Int.self) == accounts)
            #expect(try recorded.decode(1, as: Int.self) == accounts)
            #expect(try recorded.decode(2, as: Int.self) == accounts)
            // No account collected successfully twice (a kill between a finished collection and its record
            // would show up here), none skipped.
            let twice = try db.query(
                """
                SELECT count(*) FROM (SELECT account_id FROM audit.collector_runs
                 WHERE command = 'run' AND account_id IS NOT NULL AND status = 'success' GROUP BY account_id HAVING count(*) > 1) t
                """
            ).rows[0].decode(0, as: Int.self)
            #expect(twice == 0)
            let collected = try db.query(
                "SELECT count(DISTINCT account_id) FROM audit.collector_runs WHERE command = 'run' AND account_id IS NOT NULL AND status = 'success'"
            ).rows[0].decode(0, as: Int.self)
            #expect(collected == accounts)
            // The killed runner had accounts in flight: unfinished runs of its pid, each account finished by another.
            let takenOver = try db.query(
                """
                SELECT count(*) FROM audit.collector_runs k
                 WHERE k.command = 'run' AND k.account_id IS NOT NULL AND k.pid = $1 AND k.status <> 'success'
                   AND EXISTS (SELECT 1 FROM audit.night_accounts a JOIN audit.collector_runs r ON r.id = a.run_id
                                WHERE a.account_id = k.account_id AND r.pid <> $1 AND a.status = 'success')
                """, [Int(runners[0].pid)]
            ).rows[0].decode(0, as: Int.self)
            #expect(takenOver > 0, "the killed runner's in-flight accounts were finished by the others")
            // Its runs left `running` are recognised as abandoned from its ended session, whatever the host.
            #expect(try RunLog.markAbandoned(on: db) > 0)
            let abandoned = try db.query(
                "SELECT count(*), count(*) FILTER (WHERE error LIKE '%its database session ended%') FROM audit.collector_runs WHERE pid = $1 AND status = 'interrupted'",
                [Int(runners[0].pid)]
            ).rows[0]
            #expect(try abandoned.decode(0, as: Int.self) > 0)
            #expect(try abandoned.decode(0, as: Int.self) == abandoned.decode(1, as: Int.self))
            #expect(try db.query("SELECT count(*) FROM audit.collector_runs WHERE status = 'running'").rows[0].decode(0, as: Int.self) == 0)
            // Each survivor collected some; the night was analysed once, by the runner recorded as its finisher.
            let perRunner = try db.query(
                "SELECT r.pid, count(*) FROM audit.night_accounts a JOIN audit.collector_runs r ON r.id = a.run_id GROUP BY r.pid"
            ).rows.map { (try $0.decode(0, as: Int.self), try $0.decode(1, as: Int.self)) }
            #expect(perRunner.count >= 2, "\(perRunner)")
            let analyses = try db.query("SELECT count(*) FROM audit.collector_runs WHERE command = 'analyse'").rows[0]
                .decode(0, as: Int.self)
            #expect(analyses == 1)
            let finisherOutputs = finished.filter { $0.1.contains("analysis:") }
            #expect(finisherOutputs.count == 1, "exactly one runner analysed and reported: \(finished.map(\.1))")
            // Everything stored equals the simulator's history for a sample of accounts, the killed one's included.
            for name in ["acct1", "acct150", "acct\(accounts)"] {
                let truth = try await s.sim.state.export(account: name)
                let stored = try db.query(
                    "SELECT count(*) FROM audit.ledger_entries l JOIN audit.accounts a ON a.id = l.account_id WHERE a.name = $1", [name]
                ).rows[0].decode(0, as: Int.self)
                #expect(stored == truth.ledger.count, "\(name)")
            }
        }
    }
}
