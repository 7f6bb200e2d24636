import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// The nightly job end to end: the real `kraken-audit run` binary, the simulator over HTTP, a real
/// PostgreSQL, an alert hook. Two runs, a failing account, a concurrent second run.
@Suite struct NightlyRunTests {
    static var repo: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    struct Setup {
        let sim: SimulatorServer
        let database: TestDatabase
        let dir: URL
        let config: String
        let env: [String: String]
    }

    /// Runs `body` with a simulator of two accounts (counter 20, `decay` per second; `simulator` changes its options),
    /// a throw-away database, a directory with an alert hook and the configuration file of the two accounts plus
    /// `broken` (a key Kraken does not know). The simulator is stopped after `body`, awaited, also when it throws.
    static func withSetup(
        decay: Double = 5000, brokenAccount: Bool = true, opsConfig: String = "", simulator: (inout SimulatorOptions) -> Void = { _ in },
        _ body: (Setup) async throws -> Void
    ) async throws {
        var o = SimulatorOptions()
        o.endSeconds = 1_793_491_200
        o.days = 90
        o.scale = 500
        o.accounts = 2
        o.seed = 11
        o.injections = []
        o.maxCounter = 20
        o.decayPerSecond = decay
        simulator(&o)
        var logger = Logger(label: "run-test")
        logger.logLevel = .warning
        try await withSimulator(o, logger: logger) { sim in
            try await body(try makeSetup(sim, decay: decay, brokenAccount: brokenAccount, opsConfig: opsConfig))
        }
    }

    /// The database, directory, hook and configuration of ``withSetup(decay:simulator:_:)`` for `sim`.
    private static func makeSetup(_ sim: SimulatorServer, decay: Double, brokenAccount: Bool, opsConfig: String) throws -> Setup {
        let database = try TestDatabase("nightly")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let hook = dir.appendingPathComponent("hook.sh").path
        try """
        #!/bin/sh
        mkdir -p '\(dir.path)/alerts'
        cat > '\(dir.path)/alerts/'"$KRAKEN_AUDIT_DELIVERY_ID".json
        env > '\(dir.path)/alerts/'"$KRAKEN_AUDIT_DELIVERY_ID".env
        """.write(toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
        var toml = """
            [database]
            url = "\(database.url)"
            [ops]
            timezone = "Europe/Berlin"
            \(opsConfig)
            [alerts]
            hook = "\(hook)"
            min_severity = "medium"
            timeout_seconds = 10

            """
        var env = ProcessInfo.processInfo.environment
        env["KRAKEN_AUDIT_SQL_DIR"] = repo.appendingPathComponent("sql").path
        for (i, a) in sim.accounts.enumerated() {
            toml += ConfigText.account(
                name: a.name, keyEnv: "KEY_\(i)", secretEnv: "SECRET_\(i)", apiURL: sim.baseURL.absoluteString, rateLimit: (20, decay))
            env["KEY_\(i)"] = a.apiKey
            env["SECRET_\(i)"] = a.secret
        }
        // A third account whose key Kraken does not know: EAPI:Invalid key.
        if brokenAccount {
            toml += ConfigText.account(name: "broken", keyEnv: "KEY_BAD", secretEnv: "SECRET_BAD", apiURL: sim.baseURL.absoluteString)
        }
        env["KEY_BAD"] = "NotAKeyKrakenKnows"
        env["SECRET_BAD"] = Data((0..<64).map { UInt8($0) }).base64EncodedString()
        let config = dir.appendingPathComponent("kraken-audit.toml").path
        try toml.write(toFile: config, atomically: true, encoding: .utf8)
        return Setup(sim: sim, database: database, dir: dir, config: config, env: env)
    }

    static var binary: String { repo.appendingPathComponent(".build/debug/kraken-audit").path }

    /// Starts the binary with `args` (plus --config and --log-level error), stdout and stderr captured.
    static func launch(_ s: Setup, _ args: [String]) throws -> ChildProcess {
        try ChildProcess.start(
            binary, arguments: args + ["--config", s.config, "--log-level", "error"], environment: s.env, stdout: .capture(limit: 4 << 20))
    }

    /// Waits for a child without holding a thread of the cooperative pool (the in-process simulator needs
    /// them); a child still running after `timeout` is killed and the test fails with its output.
    static func finish(_ p: ChildProcess, timeout: Double = 180, sourceLocation: SourceLocation = #_sourceLocation) async -> (Int32, String)
    {
        guard let t = await p.exit(timeout: timeout) else {
            let stacks = await threadStacks(p.pid)
            _ = await p.exitOrKill(timeout: 0)
            p.waitForOutput(timeout: 2)
            Issue.record(
                "\(p.executable) did not finish within \(Int(timeout)) s and was killed; output: \(p.stdoutText.suffix(4000))\nits threads:\n\(stacks)",
                sourceLocation: sourceLocation)
            return (-1, p.stdoutText)
        }
        p.waitForOutput(timeout: 10)
        return (t.status, p.stdoutText)
    }

    /// Every thread's stack of a hung process (gdb, when installed), for the failure message.
    static func threadStacks(_ pid: pid_t) async -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") else { return "(gdb not installed)" }
        guard
            let gdb = try? ChildProcess.start(
                "/usr/bin/gdb", arguments: ["-p", "\(pid)", "-batch", "-nx", "-ex", "thread apply all bt 30"],
                environment: ProcessInfo.processInfo.environment, stdout: .capture(limit: 200_000))
        else { return "(gdb could not start)" }
        _ = await gdb.exitOrKill(timeout: 60)
        gdb.waitForOutput(timeout: 5)
        return gdb.stdoutText.split(separator: "\n").filter { $0.hasPrefix("#") || $0.hasPrefix("Thread") }.joined(separator: "\n")
    }

    /// Runs the binary with exactly `args` (plus --config), capturing stdout and stderr.
    static func runRaw(_ s: Setup, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> (Int32, String) {
        let p = try ChildProcess.start(
            binary, arguments: args + ["--config", s.config], environment: s.env, stdout: .capture(limit: 4 << 20))
        return await finish(p, sourceLocation: sourceLocation)
    }

    static func run(_ s: Setup, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> (Int32, String) {
        await finish(try launch(s, args), sourceLocation: sourceLocation)
    }

    @Test func twoRunsFailingAccountConcurrentRunAndAlerts() async throws {
        try await Self.withSetup { s in
            let reports = s.dir.appendingPathComponent("reports").path
            let metrics = s.dir.appendingPathComponent("kraken_audit.prom").path
            let args = ["run", "--report-dir", reports, "--metrics-file", metrics]

            // An unmigrated database is refused with the fix.
            let (unmigrated, text) = try await Self.run(s, args)
            #expect(unmigrated == 78)
            #expect(text.contains("kraken-audit migrate"))
            #expect(try await Self.run(s, ["migrate"]).0 == 0)

            // First run: two accounts collected, the broken one failed → exit 3, report says what failed.
            let (code1, out1) = try await Self.run(s, args)
            #expect(code1 == 3, "\(out1)")
            #expect(out1.contains("broken: FAILED"))
            #expect(out1.contains("EAPI:Invalid key"))
            let files1 = try FileManager.default.contentsOfDirectory(atPath: reports).sorted()
            #expect(files1.filter { $0.hasSuffix(".md") }.count == 1)
            #expect(files1.filter { $0.hasSuffix(".html") }.count == 1)
            #expect(files1.filter { $0.hasSuffix(".json") }.count == 1)
            #expect(!files1.contains { $0.hasPrefix(".") })  // no temp files left
            let md = try String(contentsOfFile: "\(reports)/\(try #require(files1.first { $0.hasSuffix(".md") }))", encoding: .utf8)
            #expect(md.contains("## Account broken"))
            #expect(md.contains("**FAILED**"))
            let json = try JSONValue.parse(
                Array(try Data(contentsOf: URL(fileURLWithPath: "\(reports)/\(try #require(files1.first { $0.hasSuffix(".json") }))"))))
            #expect(json["schema"]?.stringValue == "kraken-audit.report/1")

            let prom = try String(contentsOfFile: metrics, encoding: .utf8)
            #expect(prom.contains("kraken_audit_last_run_exit_code 3"))
            #expect(prom.contains("kraken_audit_account_success{account=\"broken\"} 0"))
            #expect(prom.contains("kraken_audit_account_success{account=\"acct1\"} 1"))
            #expect(prom.contains("kraken_audit_rows_collected{account=\"acct1\",endpoint=\"Ledgers\"}"))
            #expect(prom.contains("# TYPE kraken_audit_last_success_timestamp_seconds gauge"))

            // Alerts: each new medium+ finding group went to the hook once; no secret in payload or environment.
            let alertsDir = s.dir.appendingPathComponent("alerts").path
            let alerts1 = Set(((try? FileManager.default.contentsOfDirectory(atPath: alertsDir)) ?? []).filter { $0.hasSuffix(".json") })
            let db = try s.database.connect()
            let queued = try db.query("SELECT count(DISTINCT delivery_id) FROM audit.alert_outbox").rows[0].decode(0, as: Int.self)
            #expect(alerts1.count == queued)
            for f in try FileManager.default.contentsOfDirectory(atPath: alertsDir) {
                let content = try String(contentsOfFile: "\(alertsDir)/\(f)", encoding: .utf8)
                for a in s.sim.accounts { #expect(!content.contains(a.secret)) }
            }

            // Second run is incremental and sends no alert twice.
            let (code2, _) = try await Self.run(s, args)
            #expect(code2 == 3)
            let alerts2 = Set(((try? FileManager.default.contentsOfDirectory(atPath: alertsDir)) ?? []).filter { $0.hasSuffix(".json") })
            #expect(alerts1.isSubset(of: alerts2))
            // No finding was announced twice (new findings of the second run may add deliveries).
            var announced: [Int64] = []
            for f in alerts2 {
                let doc = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(alertsDir)/\(f)"))))
                for x in doc["findings"]?.arrayValue ?? [] where x["event"]?.stringValue == "new" {
                    announced.append(Int64(x["id"]?.numberText ?? "0") ?? 0)
                }
            }
            #expect(Set(announced).count == announced.count)
            #expect(try db.query("SELECT count(*) FROM audit.alert_outbox WHERE delivered_at IS NULL").rows[0].decode(0, as: Int.self) == 0)
            let files2 = try FileManager.default.contentsOfDirectory(atPath: reports)
            #expect(files2.filter { $0.hasSuffix(".html") }.count == 2)
            let runs = try db.query("SELECT status FROM audit.collector_runs WHERE command = 'run' AND account_id IS NULL ORDER BY id").rows
                .map { try $0.decode(0, as: String.self) }
            #expect(runs == ["partial", "partial"])
            // The broken account failed both nights for one cause: one finding, occurring twice, shown by `findings show`.
            let stale = try db.query(
                "SELECT f.id FROM audit.findings f JOIN audit.accounts a ON a.id = f.account_id WHERE f.rule_id = 'stale_collection' AND a.name = 'broken'"
            ).rows.map { try $0.decode(0, as: Int.self) }
            #expect(stale.count == 1)
            if let id = stale.first {
                let (shown, text) = try await Self.run(s, ["findings", "show", "\(id)"])
                #expect(shown == 0 && text.contains("occurrences: 2"), "\(text)")
            }

            // --fail-on: only the account that works, and new findings at medium+ after new activity → exit 0 or 4.
            let (code3, _) = try await Self.run(s, ["run", "--account", "acct1", "--fail-on", "critical"])
            #expect(code3 == 0 || code3 == 4)
        }
    }

    /// Issue 18: a second runner joins the first one's night. With every account held by the first, it waits as a
    /// standby; when the first stops (SIGTERM: its lease is returned, the account not recorded), the second takes
    /// the account over and finishes the night (collects, analyses, reports). A runner of another `--account`
    /// selection while that night is live has nothing to do: exit 5 at once.
    @Test func aSecondRunnerStandsByAndTakesOverWhatTheFirstLeaves() async throws {
        // The first runner's first request to Kraken is held back (120 s) while it holds acct1's lease.
        try await Self.withSetup(simulator: { $0.slowSeconds = 120 }) { s in
            #expect(try await Self.run(s, ["migrate"]).0 == 0)
            await s.sim.state.addFault(FaultRule(kind: .slow, rate: 1))
            let first = try Self.launch(s, ["run", "--account", "acct1"])
            let db = try s.database.connect()
            // The first runner holds acct1's lease (per-account leases replaced the global run lock).
            let leases = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2"
            let leaseSpace = Int(ProcessSession.accountLeaseSpace)
            func poll(_ what: String, _ condition: () throws -> Bool) async throws {
                let deadline = Date().addingTimeInterval(30)
                while try !condition(), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
                #expect(try condition(), "\(what)")
            }
            try await poll("the first runner leased acct1") { try db.query(leases, [leaseSpace]).rows[0].decode(0, as: Int.self) > 0 }
            let second = try Self.launch(s, ["run", "--account", "acct1", "--report-dir", s.dir.appendingPathComponent("reports").path])
            try await poll("the second runner joined the night") {
                try db.query("SELECT count(*) FROM audit.collector_runs WHERE command = 'run' AND account_id IS NULL").rows[0]
                    .decode(0, as: Int.self) == 2
            }
            #expect(try db.query("SELECT count(*) FROM audit.nights").rows[0].decode(0, as: Int.self) == 1)

            // Another selection while that night is live: nothing to do, at once.
            let started = Date()
            let (code, out) = try await Self.run(s, ["run", "--account", "acct2"])
            #expect(code == 5, "\(out)")
            #expect(out.contains("another kraken-audit run is in progress"))
            #expect(Date().timeIntervalSince(started) < 10)

            // SIGTERM stops the first one cleanly: exit 143, nothing half done; the standby takes acct1 over.
            await s.sim.state.clearFaults()
            first.signal(SIGTERM)
            #expect(await Self.finish(first, timeout: 60).0 == 143)
            let (secondCode, secondOut) = await Self.finish(second, timeout: 120)
            #expect(secondCode == 0 || secondCode == 4, "\(secondOut)")
            #expect(secondOut.contains("acct1: collected"), "\(secondOut)")
            #expect(secondOut.contains("analysis:"), "the standby finished the night: \(secondOut)")
            let night = try db.query("SELECT state, finisher_run_id FROM audit.nights").rows[0]
            #expect(try night.decode(0, as: String.self) == "finished")
            let runs = try db.query(
                "SELECT id, status FROM audit.collector_runs WHERE command = 'run' AND account_id IS NULL ORDER BY id"
            ).rows.map { (try $0.decode(0, as: Int64.self), try $0.decode(1, as: String.self)) }
            #expect(runs.map(\.1) == ["interrupted", "success"], "\(runs)")
            #expect(try night.decode(1, as: Int64.self) == runs.last?.0)
            let recordedBy = try db.query(
                "SELECT a.run_id FROM audit.night_accounts a JOIN audit.accounts c ON c.id = a.account_id WHERE c.name = 'acct1'"
            ).rows.map { try $0.decode(0, as: Int64.self) }
            #expect(recordedBy == [runs.last?.0], "acct1 recorded once, by the standby")
            #expect(try db.query(leases, [leaseSpace]).rows[0].decode(0, as: Int.self) == 0, "no lease left behind")
        }
    }
}

@Suite struct RunFaultTests {
    /// SIGTERM while a request to Kraken is in flight (held back by the simulator for 120 s): the request is
    /// cancelled and the run stops at once with 143, instead of waiting for the answer (or hanging: see
    /// TransportCancellationTests).
    @Test func sigtermDuringAnUnansweredRequestStopsAtOnce() async throws {
        try await NightlyRunTests.withSetup(simulator: { $0.slowSeconds = 120 }) { s in
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            await s.sim.state.addFault(FaultRule(kind: .slow, rate: 1))
            let p = try NightlyRunTests.launch(s, ["run", "--account", "acct1"])
            // The run asks Kraken's time first; that request now waits 120 s for an answer.
            try await Task.sleep(for: .seconds(2))
            #expect(p.isRunning)
            let sent = Date()
            p.signal(SIGTERM)
            let (code, out) = await NightlyRunTests.finish(p, timeout: 30)
            #expect(code == 143, "\(out)")
            #expect(Date().timeIntervalSince(sent) < 15)
            await s.sim.state.clearFaults()
        }
    }

    @Test func krakenOutageForTheWholeRunIsTemporaryAndRecordsNothingAsDone() async throws {
        try await NightlyRunTests.withSetup { s in
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            await s.sim.state.addFault(FaultRule(kind: .http502, rate: 1))
            let (code, out) = try await NightlyRunTests.run(s, ["run", "--account", "acct1", "--account", "acct2"])
            #expect(code == 75, "\(out)")
            #expect(out.contains("HTTP 502"))
            let db = try s.database.connect()
            #expect(try db.query("SELECT count(*) FROM audit.collect_cursors").rows[0].decode(0, as: Int.self) == 0)
            #expect(try db.query("SELECT count(*) FROM audit.ledger_entries").rows[0].decode(0, as: Int.self) == 0)
            #expect(
                try db.query("SELECT array_agg(DISTINCT status)::text FROM audit.collector_runs WHERE account_id IS NOT NULL").rows[0]
                    .decode(0, as: String.self) == "{failed}")
            // Kraken back: the next run completes.
            await s.sim.state.clearFaults()
            #expect(try await NightlyRunTests.run(s, ["run", "--account", "acct1", "--account", "acct2"]).0 == 0)
        }
    }

    @Test func unwritableReportDirectoryIsReportedAndTheRestIsDone() async throws {
        try await NightlyRunTests.withSetup { s in
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            let notADir = s.dir.appendingPathComponent("reports-file").path
            try "x".write(toFile: notADir, atomically: true, encoding: .utf8)
            let metrics = s.dir.appendingPathComponent("m.prom").path
            let (code, out) = try await NightlyRunTests.run(
                s, ["run", "--account", "acct1", "--report-dir", notADir, "--metrics-file", metrics])
            #expect(code == 3, "\(out)")
            #expect(out.contains("report FAILED"))
            #expect(try String(contentsOfFile: notADir, encoding: .utf8) == "x")  // nothing half-written over it
            #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains("kraken_audit_last_run_exit_code 3"))
            let db = try s.database.connect()
            #expect(try db.query("SELECT count(*) FROM audit.ledger_entries").rows[0].decode(0, as: Int.self) > 0)
        }
    }
}

/// The database goes away in the middle of a run (every backend of the run terminated by the server, as a
/// restart does): the run fails cleanly (a temporary failure, no crash), and the next run completes with exactly
/// the simulator's data.
@Suite(.serialized) struct DatabaseConnectionLossTests {
    /// Migrates, starts `run --account acct1` and waits until it has stored ledger rows.
    static func withRunUnderWay(_ body: (NightlyRunTests.Setup, ChildProcess) async throws -> Void) async throws {
        try await NightlyRunTests.withSetup(decay: 60) { s in
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            let p = try NightlyRunTests.launch(s, ["run", "--account", "acct1"])
            let watcher = try s.database.connect()
            defer { watcher.close() }
            let deadline = Date().addingTimeInterval(20)
            var started = false
            while !started, Date() < deadline {
                started = try watcher.query("SELECT count(*) FROM audit.ledger_entries").rows[0].decode(0, as: Int.self) > 0
                if !started { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(started)
            #expect(p.isRunning, "the run ended before the database went away: \(p.stdoutText)")
            try await body(s, p)
        }
    }

    /// The interrupted run ended cleanly (exit 3 or 75: no crash, no hang); the next run completes with exactly
    /// the simulator's data and no run is left `running`.
    static func expectCleanEndThenExactRerun(_ s: NightlyRunTests.Setup, _ p: ChildProcess) async throws {
        let termination = await p.exitOrKill(timeout: 180)
        p.waitForOutput(timeout: 10)
        let text = p.stdoutText
        guard case .exited(let status)? = termination else {
            Issue.record("crashed or hung (\(termination.map { "\($0)" } ?? "killed after 180 s")): \(text)")
            return
        }
        #expect([3, 75].contains(status), "\(status): \(text)")
        let (code, again) = try await NightlyRunTests.run(s, ["run", "--account", "acct1"])
        #expect(code == 0, "\(again)")
        let truth = try await s.sim.state.export(account: "acct1")
        let db = try s.database.connect()
        let stored = try db.query(
            "SELECT count(*) FROM audit.ledger_entries l JOIN audit.accounts a ON a.id = l.account_id WHERE a.name = 'acct1'"
        ).rows[0].decode(0, as: Int.self)
        #expect(stored == truth.ledger.count)
        #expect(try db.query("SELECT count(*) FROM audit.collector_runs WHERE status = 'running'").rows[0].decode(0, as: Int.self) == 0)
    }

    @Test func connectionsLostMidRun() async throws {
        let admin = try PGConnection(url: "dbname=postgres", logger: TestDatabase.logger)
        defer { admin.close() }
        try await Self.withRunUnderWay { s, p in
            // Terminate every connection to the database for a moment (what a server restart does to its clients).
            let until = Date().addingTimeInterval(1)
            var terminated = 0
            while Date() < until {
                terminated += try admin.query(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    [s.database.name]
                ).rows[0].decode(0, as: Int.self)
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(terminated > 0)
            try await Self.expectCleanEndThenExactRerun(s, p)
        }
    }

    /// `pg_ctl` of the cluster `scripts/test` started (pg_virtualenv sets `PGVERSION`).
    ///
    /// Not `pg_ctlcluster`: every `pg_virtualenv -t` cluster is named 15/regress and shares one
    /// `external_pid_file`, so while a second throw-away cluster runs on the machine `pg_ctlcluster restart` reads
    /// the other cluster's pid and fails with "Cluster is already running" (../shared/swift-build-notes.md).
    /// `pg_ctl -D` works on this cluster's own data directory and its own `postmaster.pid`.
    static var pgCtl: String? {
        guard let version = ProcessInfo.processInfo.environment["PGVERSION"] else { return nil }
        let path = "/usr/lib/postgresql/\(version)/bin/pg_ctl"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// The command that restarts the server whose data directory is `dataDirectory`, as that directory's owner
    /// (pg_ctl refuses to run as root; as root, `runuser` switches to the cluster's owner, as pg_ctlcluster does).
    static func restartCommand(pgCtl: String, dataDirectory: String) throws -> (String, [String]) {
        let args = ["restart", "-D", dataDirectory, "-m", "fast", "-w", "-t", "90", "-l", dataDirectory + "/kraken-audit-restart.log"]
        let owner = try FileManager.default.attributesOfItem(atPath: dataDirectory)[.ownerAccountName] as? String
        if geteuid() == 0, let owner, owner != "root" {
            return ("/usr/sbin/runuser", ["-u", owner, "--", pgCtl] + args)
        }
        return (pgCtl, args)
    }

    /// The PostgreSQL server itself restarts in the middle of a run (`pg_ctl restart -m fast`).
    @Test(.enabled(if: pgCtl != nil)) func serverRestartMidRun() async throws {
        let pgCtl = try #require(Self.pgCtl)
        try await Self.withRunUnderWay { s, p in
            let admin = try s.database.connect()
            let bootedBefore = try admin.query("SELECT pg_postmaster_start_time()::text").rows[0].decode(0, as: String.self)
            let dataDirectory = try admin.query("SELECT current_setting('data_directory')").rows[0].decode(0, as: String.self)
            admin.close()
            let (command, arguments) = try Self.restartCommand(pgCtl: pgCtl, dataDirectory: dataDirectory)
            let restart = try ChildProcess.start(command, arguments: arguments, environment: ProcessInfo.processInfo.environment)
            let restarted = await restart.exitOrKill(timeout: 120)
            restart.waitForOutput(timeout: 5)
            try #require(
                restarted == .exited(0),
                "pg_ctl restart: \(String(describing: restarted)) \(restart.stdoutText) \(restart.stderrText)")
            let bootedAfter = try s.database.connect().query("SELECT pg_postmaster_start_time()::text").rows[0].decode(0, as: String.self)
            #expect(bootedAfter != bootedBefore)  // it really was a new server process
            try await Self.expectCleanEndThenExactRerun(s, p)
        }
    }
}
