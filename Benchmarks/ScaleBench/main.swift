// Scale benchmarks (issue 18). Prints figures; asserts nothing beyond sanity. Run inside a throw-away cluster with
// PostgreSQL's default settings (max_connections = 100):
//   swift build -c release --scratch-path .build-release --product scale-bench --product kraken-simulator --product kraken-audit
//   pg_virtualenv -t .build-release/release/scale-bench accounts --accounts 1000 --scale 300 --max 15 --decay 0.5
//   pg_virtualenv -t .build-release/release/scale-bench runners --accounts 300 --runners 3 --kill --decay 1
// `accounts`: one in-process Collector.collect over every account (one pool of --pool connections, default 8;
//   [ops] max_concurrent_accounts = --concurrency, default the account count): accounts succeeded, wall time / the
//   slowest account's counter floor (from audit.api_calls), peak RSS, peak connections (pg_stat_activity polled).
// `runners`: --runners `kraken-audit run` processes (the release binary) sharing one night; with --kill the runner
//   with most accounts in flight is SIGKILLed once a third of the accounts are recorded: per-runner exit codes and
//   accounts, every account exactly once, no account with two successful per-account runs, who finished the night.
// The simulator always runs as a separate process (so peak RSS is the collector's own).
import AuditConfig
import AuditKernel
import AuditStore
import ChildProcesses
import Collector
import Foundation
import KrakenAPI
import Logging

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

func arg(_ name: String, _ def: Double) -> Double {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count, let v = Double(a[i + 1]) { return v }
    return def
}

let mode = CommandLine.arguments.dropFirst().first ?? "accounts"
let accountCount = Int(arg("--accounts", mode == "runners" ? 300 : 1000))
let scale = Int(arg("--scale", 300))
let decay = arg("--decay", 0.5)
let maxCounter = arg("--max", 15)
let poolSize = Int(arg("--pool", 8))
let concurrency = Int(arg("--concurrency", Double(accountCount)))
let runnerCount = Int(arg("--runners", 3))
let killOne = CommandLine.arguments.contains("--kill")
let repo: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let logger: Logger = {
    var l = Logger(label: "bench")
    l.logLevel = .error
    return l
}()

/// CPU seconds (user + system) this process used so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

typealias SimAccount = (name: String, key: String, secret: String)

/// Starts `kraken-simulator` with `accountCount` accounts; returns it, its URL and the accounts' keys.
func startSimulator() throws -> (ChildProcess, String, [SimAccount]) {
    let args = [
        "--seed", "5", "--accounts", String(accountCount), "--scale", String(scale), "--days", "30", "--clean", "--no-injections",
        "--port", "0", "--end", "2026-11-01", "--max", String(maxCounter), "--decay", String(decay),
    ]
    let p = try ChildProcess.start(
        binDir.appendingPathComponent("kraken-simulator").path, arguments: args, environment: ProcessInfo.processInfo.environment,
        stdout: .capture(limit: 1 << 24), stderr: .discard)
    let deadline = Date().addingTimeInterval(600)
    while true {
        if !p.isRunning { throw BenchError(description: "simulator exited: \(p.stdoutText)") }
        let text = p.stdoutText
        let lines = text.split(separator: "\n")
        // The simulator writes its lines at once; wait for the last account's complete line.
        if text.hasSuffix("\n"), lines.filter({ $0.hasPrefix("account=") }).count == accountCount {
            func field(_ line: Substring, _ name: String) -> String {
                for part in line.split(separator: " ") where part.hasPrefix(name + "=") { return String(part.dropFirst(name.count + 1)) }
                return ""
            }
            let url = lines.first { $0.hasPrefix("url=") }.map { field($0, "url") } ?? ""
            let accounts = lines.filter { $0.hasPrefix("account=") }.map {
                (name: field($0, "account"), key: field($0, "key"), secret: field($0, "secret"))
            }
            return (p, url, accounts)
        }
        if Date() > deadline { throw BenchError(description: "simulator did not print its accounts within 600 s") }
        usleep(50_000)
    }
}

func makeDatabase() throws -> String {
    let admin = try PGConnection(url: "dbname=postgres", logger: logger)
    defer { admin.close() }
    let name = "ka_scale_\(getpid())"
    try admin.executeScript("DROP DATABASE IF EXISTS \(name)")
    try admin.executeScript("CREATE DATABASE \(name)")
    return name
}

func dropDatabase(_ name: String) {
    guard let admin = try? PGConnection(url: "dbname=postgres", logger: logger) else { return }
    defer { admin.close() }
    _ = try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
}

/// Polls the number of sessions on the benchmark database every ~100 ms from its own connection (not counted) on
/// its own thread, keeping the peak and the application names seen at the peak.
final class ConnectionWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var stop = false
    private var peakSeen = 0
    private var atPeak = ""
    private var samples = 0
    private let done = DispatchSemaphore(value: 0)

    init(dbURL: String) throws {
        let db = try PGConnection(url: dbURL, applicationName: "scale-bench watcher", logger: logger)
        Thread.detachNewThread { [self] in
            defer {
                db.close()
                done.signal()
            }
            while !lock.withLock({ stop }) {
                if let rows = try? db.query(
                    """
                    SELECT coalesce(application_name, ''), count(*)::int FROM pg_stat_activity
                     WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                     GROUP BY 1 ORDER BY 1
                    """
                ).rows {
                    let parts = rows.compactMap { r -> (String, Int)? in
                        guard let n = try? r.decode(0, as: String.self), let c = try? r.decode(1, as: Int.self) else { return nil }
                        return (n, c)
                    }
                    let total = parts.reduce(0) { $0 + $1.1 }
                    lock.withLock {
                        samples += 1
                        if total > peakSeen {
                            peakSeen = total
                            atPeak = parts.map { "\($0.0.isEmpty ? "(none)" : $0.0): \($0.1)" }.joined(separator: ", ")
                        }
                    }
                }
                usleep(100_000)
            }
        }
    }

    func finish() -> (peak: Int, atPeak: String, samples: Int) {
        lock.withLock { stop = true }
        done.wait()
        return lock.withLock { (peakSeen, atPeak, samples) }
    }
}

func accountTOML(_ i: Int, _ a: SimAccount, url: String) -> String {
    """
    [[account]]
    name = "\(a.name)"
    api_key_env = "SB_KEY_\(i)"
    api_secret_env = "SB_SECRET_\(i)"
    api_url = "\(url)"
    rate_limit = { max = \(maxCounter), decay_per_second = \(decay) }

    """
}

/// Per account: the counter floor of what it called (audit.api_calls): Kraken's first `max` points are free, every
/// further point takes 1/decay s.
func floors(_ db: PGConnection) throws -> [(String, Int, Double, Double)] {
    let rows = try db.query(
        """
        SELECT a.name, count(*)::int,
               sum(CASE WHEN c.endpoint IN ('Ledgers', 'TradesHistory', 'QueryLedgers', 'QueryTrades') THEN 2 ELSE 1 END)::float8
          FROM audit.api_calls c JOIN audit.accounts a ON a.id = c.account_id GROUP BY a.name
        """
    ).rows
    return try rows.map { r in
        let cost = try r.decode(2, as: Double.self)
        return (try r.decode(0, as: String.self), try r.decode(1, as: Int.self), cost, max(0, (cost - maxCounter) / decay))
    }
}

func count(_ db: PGConnection, _ sql: String, _ binds: [(any PGEncodable)?] = []) throws -> Int {
    try db.query(sql, binds).rows[0].decode(0, as: Int.self)
}

// MARK: accounts

func benchAccounts() async throws {
    let (sim, url, accounts) = try startSimulator()
    defer { sim.signal(SIGTERM) }
    let name = try makeDatabase()
    defer { dropDatabase(name) }
    let dbURL = "dbname=\(name)"
    do {
        let db = try PGConnection(url: dbURL, logger: logger)
        defer { db.close() }
        try Migrator(directory: repo.appendingPathComponent("sql/migrations"), logger: logger).migrate(on: db)
    }
    var toml = """
        [database]
        url = "\(dbURL)"
        max_connections = \(poolSize)
        [ops]
        timezone = "UTC"
        max_concurrent_accounts = \(concurrency)

        """
    var keys: [String: KrakenCredentials] = [:]
    for (i, a) in accounts.enumerated() {
        toml += accountTOML(i, a, url: url)
        keys[a.name] = KrakenCredentials(apiKey: a.key, secret: Secret(a.secret))
    }
    let config = try ConfigLoader.parse(toml, path: "scale-bench.toml")
    let known = keys
    let collector = Collector(
        config: config,
        credentials: { account in
            guard let c = known[account.name] else { throw BenchError(description: "no key for \(account.name)") }
            return c
        }, logger: logger)
    print(
        "accounts benchmark: \(accounts.count) simulated accounts, ~\(scale) ledger entries each, counter max \(maxCounter), decay \(decay)/s"
    )
    print(
        "settings: [database] max_connections = \(config.database.maxConnections), [ops] max_concurrent_accounts = \(config.ops.maxConcurrentAccounts)"
    )
    let watcher = try ConnectionWatcher(dbURL: dbURL)
    let started = Date()
    let outcomes = await collector.collect()
    let elapsed = Date().timeIntervalSince(started)
    let rss = peakRSSMiB()
    let cpu = cpuSeconds()
    let seen = watcher.finish()

    let db = try PGConnection(url: dbURL, logger: logger)
    defer { db.close() }
    let failed = outcomes.filter { !$0.succeeded }
    let perAccount = try floors(db)
    let slowest = perAccount.max { $0.3 < $1.3 }
    let calls = perAccount.reduce(0) { $0 + $1.1 }
    let rateLimited = try count(db, "SELECT count(*)::int FROM audit.api_calls WHERE 'EAPI:Rate limit exceeded' = ANY (errors)")
    let nonce = try count(db, "SELECT count(*)::int FROM audit.api_calls WHERE 'EAPI:Invalid nonce' = ANY (errors)")
    let ledgerRows = try count(db, "SELECT count(*)::int FROM audit.ledger_entries")
    print("accounts: \(outcomes.count - failed.count) succeeded, \(failed.count) failed (of \(accounts.count))")
    for f in failed.prefix(5) { print("  failed: \(f.account): \(f.error.map { "\($0)" } ?? "?")") }
    print("calls: \(calls), ledger rows stored: \(ledgerRows)")
    if let slowest {
        print(
            String(
                format: "slowest account's counter floor: %.1f s (%@: %d calls, %.0f points)   wall: %.1f s   ratio wall/floor: %.3f",
                slowest.3, slowest.0, slowest.1, slowest.2, elapsed, elapsed / max(slowest.3, 0.001)))
    }
    // How long each account took from its run's start to its end: all about equally long means they shared one
    // bottleneck (database, CPU); the floor shows in the fastest.
    let spans = try db.query(
        """
        SELECT extract(epoch FROM min(finished_at - started_at))::float8, extract(epoch FROM percentile_cont(0.5) WITHIN GROUP
               (ORDER BY finished_at - started_at))::float8, extract(epoch FROM max(finished_at - started_at))::float8
          FROM audit.collector_runs WHERE account_id IS NOT NULL
        """
    ).rows[0]
    print(
        String(
            format:
                "per-account collection time: min %.1f s, median %.1f s, max %.1f s; throughput %.0f calls/s; CPU of this process %.1f s (%.0f%% of one core)",
            try spans.decode(0, as: Double.self), try spans.decode(1, as: Double.self), try spans.decode(2, as: Double.self),
            Double(calls) / elapsed, cpu, 100 * cpu / elapsed))
    print(String(format: "peak RSS of this process: %.1f MiB", rss))
    print(
        "peak database connections (pg_stat_activity client backends, watcher excluded, \(seen.samples) samples): \(seen.peak) [\(seen.atPeak)]; pool size \(config.database.maxConnections) (+2 = \(config.database.maxConnections + 2))"
    )
    print("pool peakConnections: not reachable from outside Collector.collect (the pool is created and closed inside it)")
    print("'EAPI:Rate limit exceeded' in audit.api_calls: \(rateLimited); 'EAPI:Invalid nonce': \(nonce)")
}

// MARK: runners

func benchRunners() async throws {
    let (sim, url, accounts) = try startSimulator()
    defer { sim.signal(SIGTERM) }
    let name = try makeDatabase()
    defer { dropDatabase(name) }
    let dbURL = "dbname=\(name)"
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scale-bench-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var toml = """
        [database]
        url = "\(dbURL)"
        [ops]
        timezone = "UTC"

        """
    var env = ProcessInfo.processInfo.environment
    env["KRAKEN_AUDIT_SQL_DIR"] = repo.appendingPathComponent("sql").path
    for (i, a) in accounts.enumerated() {
        toml += accountTOML(i, a, url: url)
        env["SB_KEY_\(i)"] = a.key
        env["SB_SECRET_\(i)"] = a.secret
    }
    let config = dir.appendingPathComponent("kraken-audit.toml").path
    try toml.write(toFile: config, atomically: true, encoding: .utf8)
    let tool = binDir.appendingPathComponent("kraken-audit").path
    let migrate = try ChildProcess.run(tool, arguments: ["--config", config, "migrate"], environment: env, timeout: 300)
    guard migrate.termination == .exited(0) else { throw BenchError(description: "migrate failed: \(migrate.output)") }

    print(
        "runners benchmark: \(runnerCount) `kraken-audit run` processes on \(accounts.count) accounts (~\(scale) ledger entries each, counter max \(maxCounter), decay \(decay)/s)\(killOne ? ", one SIGKILLed mid-collection" : "")"
    )
    let db = try PGConnection(url: dbURL, logger: logger)
    defer { db.close() }
    let started = Date()
    var runners: [ChildProcess] = []
    for i in 0..<runnerCount {
        let log = dir.appendingPathComponent("runner\(i).log").path
        runners.append(
            try ChildProcess.start(
                tool, arguments: ["--config", config, "run", "--report-dir", dir.appendingPathComponent("reports").path], environment: env,
                stdout: .file(log), stderr: .stdout))
    }
    var killed: ChildProcess? = nil
    var inFlightAtKill: [String] = []
    if killOne {
        // When a third of the accounts are recorded, the runner with the most accounts in flight (per-account runs
        // still 'running') is SIGKILLed.
        let deadline = Date().addingTimeInterval(1800)
        var victim: ChildProcess? = nil
        while Date() < deadline, runners.contains(where: { $0.isRunning }) {
            if try count(db, "SELECT count(*)::int FROM audit.night_accounts") >= accounts.count / 3 {
                let live = runners.filter { $0.isRunning }
                let inFlight = try live.map { r in
                    try count(
                        db,
                        "SELECT count(*)::int FROM audit.collector_runs WHERE command = 'run' AND account_id IS NOT NULL AND pid = $1 AND status = 'running'",
                        [Int(r.pid)])
                }
                if let best = inFlight.indices.max(by: { inFlight[$0] < inFlight[$1] }), inFlight[best] > 0 { victim = live[best] }
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if let victim, victim.isRunning {
            victim.signal(SIGKILL)
            _ = await victim.exit(timeout: 30)
            killed = victim
            // What it had started and not recorded: its per-account runs still 'running'.
            inFlightAtKill = try db.query(
                """
                SELECT a.name FROM audit.collector_runs r JOIN audit.accounts a ON a.id = r.account_id
                 WHERE r.command = 'run' AND r.pid = $1 AND r.status = 'running' ORDER BY a.name
                """, [Int(victim.pid)]
            ).rows.map { try $0.decode(0, as: String.self) }
            print(
                String(
                    format: "killed runner %d (pid %d) after %.1f s with %d accounts recorded in the night; it had %d in flight",
                    runners.firstIndex { $0 === victim } ?? -1, victim.pid, Date().timeIntervalSince(started),
                    try count(db, "SELECT count(*)::int FROM audit.night_accounts"), inFlightAtKill.count))
        } else {
            print("no runner had accounts in flight when a third of the accounts were recorded: nothing killed")
        }
    }
    var exits: [Int32?] = []
    for r in runners {
        let t = await r.exit(timeout: 3600)
        exits.append(t?.status)
    }
    let elapsed = Date().timeIntervalSince(started)

    // The night and who did what.
    let nights = try db.query("SELECT id, state, finisher_run_id FROM audit.nights ORDER BY id").rows
    print("nights: \(nights.count)")
    for n in nights {
        print(
            "  night \(try n.decode(0, as: Int64.self)): state \(try n.decode(1, as: String.self)), finisher run \(try n.decodeOptional(2, as: Int64.self).map(String.init) ?? "none")"
        )
    }
    let finisherPid = try db.query(
        "SELECT r.pid FROM audit.nights n JOIN audit.collector_runs r ON r.id = n.finisher_run_id ORDER BY n.id DESC LIMIT 1"
    ).rows.first.flatMap { try? $0.decodeOptional(0, as: Int.self) }
    for (i, r) in runners.enumerated() {
        let runIds = try db.query(
            "SELECT id FROM audit.collector_runs WHERE command = 'run' AND account_id IS NULL AND pid = $1", [Int(r.pid)]
        ).rows.map { try $0.decode(0, as: Int64.self) }
        let collected = try count(
            db,
            "SELECT count(*)::int FROM audit.night_accounts na JOIN audit.collector_runs r ON r.id = na.run_id WHERE r.pid = $1",
            [Int(r.pid)])
        let ok = try count(
            db,
            "SELECT count(*)::int FROM audit.night_accounts na JOIN audit.collector_runs r ON r.id = na.run_id WHERE r.pid = $1 AND na.status = 'success'",
            [Int(r.pid)])
        let exitText = exits[i].map { String($0) } ?? "still running after 3600 s"
        print(
            "  runner \(i) (pid \(r.pid), run \(runIds.map(String.init).joined(separator: ","))): exit \(exitText)\(r === killed ? " (SIGKILL)" : ""), recorded \(collected) accounts (\(ok) success)\(finisherPid == Int(r.pid) ? ", FINISHED THE NIGHT" : "")"
        )
    }
    let nightId = try db.query("SELECT max(id) FROM audit.nights").rows[0].decodeOptional(0, as: Int64.self) ?? 0
    let recorded = try count(db, "SELECT count(*)::int FROM audit.night_accounts WHERE night_id = $1", [nightId])
    let distinct = try count(db, "SELECT count(DISTINCT account_id)::int FROM audit.night_accounts WHERE night_id = $1", [nightId])
    let missing = try db.query(
        """
        SELECT a.name FROM audit.accounts a
         WHERE NOT EXISTS (SELECT 1 FROM audit.night_accounts na WHERE na.night_id = $1 AND na.account_id = a.id) ORDER BY a.name
        """, [nightId]
    ).rows.map { try $0.decode(0, as: String.self) }
    let recordedFailed = try count(
        db, "SELECT count(*)::int FROM audit.night_accounts WHERE night_id = $1 AND status <> 'success'", [nightId])
    // Per-account runs of this benchmark's only night: at most one success each.
    let doubles = try db.query(
        """
        SELECT a.name, count(*)::int FROM audit.collector_runs r JOIN audit.accounts a ON a.id = r.account_id
         WHERE r.command = 'run' AND r.status = 'success' GROUP BY a.name HAVING count(*) > 1 ORDER BY a.name
        """
    ).rows.map { "\(try $0.decode(0, as: String.self)) x\(try $0.decode(1, as: Int.self))" }
    let perAccountRuns = try db.query(
        "SELECT status, count(*)::int FROM audit.collector_runs WHERE command = 'run' AND account_id IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).rows.map { "\(try $0.decode(0, as: String.self)): \(try $0.decode(1, as: Int.self))" }
    print(
        "night \(nightId): \(recorded) rows in night_accounts, \(distinct) distinct accounts of \(accounts.count); \(recordedFailed) not 'success'"
    )
    print("accounts missing from the night: \(missing.count)\(missing.isEmpty ? "" : " " + missing.prefix(10).joined(separator: ", "))")
    print(
        "accounts with two or more successful per-account `run` collector_runs: \(doubles.count)\(doubles.isEmpty ? "" : " " + doubles.prefix(10).joined(separator: ", "))"
    )
    // For each account collected twice: its runs, which runner (pid) made them, and which one the night recorded.
    let doubleDetail = try db.query(
        """
        SELECT a.name, r.id, r.pid, r.status, to_char(r.started_at, 'HH24:MI:SS.MS'), to_char(r.finished_at, 'HH24:MI:SS.MS'),
               coalesce((SELECT 'recorded by run ' || na.run_id FROM audit.night_accounts na WHERE na.collector_run_id = r.id), 'not recorded')
          FROM audit.collector_runs r JOIN audit.accounts a ON a.id = r.account_id
         WHERE r.command = 'run' AND r.account_id IN (SELECT account_id FROM audit.collector_runs WHERE command = 'run'
               AND status = 'success' AND account_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1)
         ORDER BY a.name, r.id
        """
    ).rows
    for r in doubleDetail {
        print(
            "    \(try r.decode(0, as: String.self)): collector_run \(try r.decode(1, as: Int64.self)) pid \(try r.decodeOptional(2, as: Int.self) ?? 0) \(try r.decode(3, as: String.self)) \(try r.decode(4, as: String.self))-\(try r.decodeOptional(5, as: String.self) ?? "") \(try r.decode(6, as: String.self))"
        )
    }
    print("per-account `run` collector_runs by status: \(perAccountRuns.joined(separator: ", "))")
    if let killed {
        var finishedBy: [String: Int] = [:]
        for account in inFlightAtKill {
            let by = try db.query(
                """
                SELECT r.pid, na.status FROM audit.night_accounts na JOIN audit.accounts a ON a.id = na.account_id
                  JOIN audit.collector_runs r ON r.id = na.run_id WHERE na.night_id = $1 AND a.name = $2
                """, [nightId, account]
            ).rows.first
            let pid = try by?.decodeOptional(0, as: Int.self)
            let key: String
            if let pid {
                key = pid == Int(killed.pid) ? "the killed runner (!)" : "runner pid \(pid) (\(try by?.decode(1, as: String.self) ?? "?"))"
            } else {
                key = "nobody (!)"
            }
            finishedBy[key, default: 0] += 1
        }
        print(
            "accounts the killed runner had in flight (\(inFlightAtKill.count)) finished by: \(finishedBy.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))"
        )
    }
    let rateLimited = try count(db, "SELECT count(*)::int FROM audit.api_calls WHERE 'EAPI:Rate limit exceeded' = ANY (errors)")
    let nonce = try count(db, "SELECT count(*)::int FROM audit.api_calls WHERE 'EAPI:Invalid nonce' = ANY (errors)")
    print("'EAPI:Rate limit exceeded' in audit.api_calls: \(rateLimited); 'EAPI:Invalid nonce': \(nonce)")
    print(String(format: "wall time (start of the runners to the last exit): %.1f s", elapsed))
    for i in runners.indices {
        let log = (try? String(contentsOfFile: dir.appendingPathComponent("runner\(i).log").path, encoding: .utf8)) ?? ""
        print("  runner \(i) output (last lines):\n    \(log.split(separator: "\n").suffix(4).joined(separator: "\n    "))")
    }
}

do {
    switch mode {
    case "accounts": try await benchAccounts()
    case "runners": try await benchRunners()
    default:
        throw BenchError(
            description:
                "usage: scale-bench accounts|runners [--accounts N] [--scale N] [--max M] [--decay D] [--pool N] [--concurrency N] [--runners N] [--kill]"
        )
    }
} catch {
    FileHandle.standardError.write(Data("scale-bench: \(error)\n".utf8))
    exit(1)
}
