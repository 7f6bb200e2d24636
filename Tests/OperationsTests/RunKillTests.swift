import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import KrakenAPI
import KrakenSimulator
import TestSupport
import Testing

/// Reliability: `kill -9` of real `kraken-audit migrate` and `run` processes at seeded random moments (spread
/// over migration, collection, analysis, report and alert delivery), then a clean run. Checks: stored data =
/// simulator truth, no duplicate rows, every alert delivered and none announced twice, no half-written report,
/// no stuck lock. `KRAKEN_AUDIT_FULL_SWEEP=1` runs 200 kills instead of 50.
@Suite struct RunKillTests {
    @Test func killAnywhereThenRerun() async throws {
        try await NightlyRunTests.withSetup(decay: 100) { s in
            let full = ProcessInfo.processInfo.environment["KRAKEN_AUDIT_FULL_SWEEP"] == "1"
            let kills = full ? 200 : 50
            let seed = UInt64(ProcessInfo.processInfo.environment["KRAKEN_AUDIT_KILL_SEED"] ?? "") ?? 20_261_126
            var rng = SplitMix(seed: seed)
            let reports = s.dir.appendingPathComponent("reports").path
            let args = ["run", "--account", "acct1", "--account", "acct2", "--report-dir", reports, "--log-level", "error"]
            await s.sim.state.addFault(FaultRule(kind: .liveInserts, rate: 0.1))
            var killedDuring: [String: Int] = [:]
            let db = try s.database.connect()
            for i in 0..<kills {
                let migrating = i < 3
                let p = try NightlyRunTests.launch(s, migrating ? ["migrate"] : args)
                let delay = Double(rng.next() % 600) / 1000 + 0.01
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                if p.isRunning {
                    // Which phase was it in? (best effort, for the report of where kills landed)
                    let phase: String
                    if migrating {
                        phase = "migrate"
                    } else {
                        let row = try? db.query(
                            "SELECT count(*) FILTER (WHERE command = 'analyse' AND status = 'running'), count(*) FILTER (WHERE command = 'run' AND account_id IS NOT NULL AND status = 'running') FROM audit.collector_runs"
                        ).rows.first
                        let analysing = (try? row?.decode(0, as: Int.self)) ?? 0
                        let collecting = (try? row?.decode(1, as: Int.self)) ?? 0
                        phase = analysing > 0 ? "analyse" : (collecting > 0 ? "collect" : "report/alerts/other")
                    }
                    p.signal(SIGKILL)
                    killedDuring[phase, default: 0] += 1
                }
                _ = await NightlyRunTests.finish(p)
            }
            await s.sim.state.clearFaults()
            let clock = await s.sim.state.clockOffsetSeconds
            await s.sim.state.setClockOffset(clock + 60)
            let (code, out) = try await NightlyRunTests.run(s, args)
            #expect(code == 0 || code == 3, "\(out)")  // not 5: no stuck lock
            print("kills by phase: \(killedDuring.sorted { $0.key < $1.key })")
            #expect(killedDuring.values.reduce(0, +) >= kills * 2 / 5)  // most runs were killed mid-way

            // Stored data = simulator truth, no duplicates (the primary keys make duplicates impossible; check counts).
            for a in s.sim.accounts {
                let truth = try await s.sim.state.export(account: a.name)
                let id = try db.query("SELECT id FROM audit.accounts WHERE name = $1", [a.name]).rows[0].decode(0, as: Int.self)
                let stored = try db.query(
                    "SELECT (SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1), (SELECT count(*) FROM audit.trades WHERE account_id = $1), (SELECT count(*) FROM audit.orders WHERE account_id = $1)",
                    [id]
                ).rows[0]
                #expect(
                    try [stored.decode(0, as: Int.self), stored.decode(1, as: Int.self), stored.decode(2, as: Int.self)] == [
                        truth.ledger.count, truth.trades.count, truth.orders.count,
                    ], "\(a.name)")
                var missing = 0
                for (lid, entry) in truth.ledger {
                    let row = try db.query(
                        "SELECT raw = $3::jsonb FROM audit.ledger_entries WHERE account_id = $1 AND ledger_id = $2",
                        [id, lid, entry.jsonText]
                    ).rows.first
                    if (try row?.decode(0, as: Bool.self)) != true { missing += 1 }
                }
                #expect(missing == 0, "\(a.name): \(missing) ledger entries missing or different")
            }
            // Alerts: every queued alert delivered; no finding announced as new twice.
            #expect(try db.query("SELECT count(*) FROM audit.alert_outbox WHERE delivered_at IS NULL").rows[0].decode(0, as: Int.self) == 0)
            #expect(
                try db.query(
                    "SELECT count(*) FROM (SELECT finding_id FROM audit.alert_outbox WHERE event = 'new' GROUP BY finding_id HAVING count(*) > 1) x"
                ).rows[0].decode(0, as: Int.self) == 0)
            let alertsDir = s.dir.appendingPathComponent("alerts").path
            var announced: [String: Int] = [:]
            for f in (try? FileManager.default.contentsOfDirectory(atPath: alertsDir)) ?? [] where f.hasSuffix(".json") {
                let doc = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(alertsDir)/\(f)"))))
                for x in doc["findings"]?.arrayValue ?? [] where x["event"]?.stringValue == "new" {
                    announced[x["id"]?.numberText ?? "?", default: 0] += 1
                }
            }
            let outboxNew = try db.query("SELECT count(*) FROM audit.alert_outbox WHERE event = 'new'").rows[0].decode(0, as: Int.self)
            #expect(announced.count == outboxNew)  // none lost (a re-sent delivery keeps its id, so files dedupe)
            // Reports: every file complete (no temp files left, every JSON parses, every HTML ends).
            for f in try FileManager.default.contentsOfDirectory(atPath: reports) {
                #expect(!f.hasPrefix("."), "temporary file left: \(f)")
                let content = try String(contentsOfFile: "\(reports)/\(f)", encoding: .utf8)
                if f.hasSuffix(".json") { #expect((try? JSONValue.parse(content)) != nil, "\(f)") }
                if f.hasSuffix(".html") { #expect(content.hasSuffix("</html>\n"), "\(f)") }
            }
            // No stuck lock and no run left 'running' after the last run.
            #expect(try db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").rows[0].decode(0, as: Int.self) == 0)
        }
    }
}
