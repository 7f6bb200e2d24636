import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// The real `kraken-audit` binary watching the simulator (its WebSocket v2 endpoint and REST API) into a throw-away
/// database, with an alert hook that writes each delivery to `alerts/<delivery_id>.json`. Torn down (simulator
/// stopped, processes killed) after the test's closure, awaited.
struct WatchHarness {
    let sim: SimulatorServer
    let database: TestDatabase
    let db: PGConnection
    let dir: URL
    let config: String
    let env: [String: String]
    let account: String

    static var repo: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }
    static var binary: String { repo.appendingPathComponent(".build/debug/kraken-audit").path }

    /// One simulated account (counter effectively off, clean history so every finding is the test's own plant),
    /// migrated and collected once, as an operator starts `watch` beside the nightly job.
    /// `extraConfig` is appended to the configuration (e.g. `[rules.*]` tables).
    static func with(groupSeconds: Double = 0, extraConfig: String = "", _ body: (WatchHarness) async throws -> Void) async throws {
        var o = SimulatorOptions()
        o.endSeconds = 1_793_491_200
        o.days = 60
        o.scale = 300
        o.accounts = 1
        o.seed = 23
        o.injections = []
        o.clean = true
        o.maxCounter = 20
        o.decayPerSecond = 5000
        var logger = Logger(label: "watch-test")
        logger.logLevel = .warning
        try await withSimulator(o, logger: logger) { sim in
            let database = try TestDatabase("watch")
            let db = try database.migrated()
            defer { db.close() }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-watch-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("alerts"), withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let hook = dir.appendingPathComponent("hook.sh").path
            try """
            #!/bin/sh
            cat > '\(dir.path)/alerts/'"$KRAKEN_AUDIT_DELIVERY_ID".tmp && mv '\(dir.path)/alerts/'"$KRAKEN_AUDIT_DELIVERY_ID".tmp '\(dir.path)/alerts/'"$KRAKEN_AUDIT_DELIVERY_ID".json
            """.write(toFile: hook, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
            let a = sim.accounts[0]
            var toml = """
                [database]
                url = "\(database.url)"
                [ops]
                timezone = "Europe/Berlin"
                [alerts]
                hook = "\(hook)"
                min_severity = "medium"
                timeout_seconds = 10
                [watch]
                group_seconds = \(groupSeconds)
                [integrity]
                signing_key_file = "\(dir.path)/signing.pem"
                digest_dir = "\(dir.path)/digests"
                \(extraConfig)

                """
            toml += ConfigText.account(
                name: a.name, keyEnv: "KEY_0", secretEnv: "SECRET_0", apiURL: sim.baseURL.absoluteString, rateLimit: (20, 5000),
                timeoutSeconds: 10, extra: ["ws_url = \"\(sim.webSocketURL.absoluteString)\""])
            var env = ProcessInfo.processInfo.environment
            env["KRAKEN_AUDIT_SQL_DIR"] = repo.appendingPathComponent("sql").path
            env["KEY_0"] = a.apiKey
            env["SECRET_0"] = a.secret
            let config = dir.appendingPathComponent("kraken-audit.toml").path
            try toml.write(toFile: config, atomically: true, encoding: .utf8)
            let h = WatchHarness(sim: sim, database: database, db: db, dir: dir, config: config, env: env, account: a.name)
            // The integrity key, so the nightly run seals and `verify` checks the chains with the streamed rows in them.
            let keygen = try ChildProcess.start(
                Self.binary, arguments: ["keygen", "--out", "\(dir.path)/signing.pem"], environment: env, stdout: .capture(limit: 1 << 16))
            #expect(await keygen.exit(timeout: 60)?.status == 0)
            let (code, out) = try await h.run(["collect"])
            #expect(code == 0, "collect: \(out)")
            try await body(h)
        }
    }

    /// Runs the binary to its end (plus --config), stdout and stderr captured.
    func run(_ args: [String], timeout: Double = 180) async throws -> (Int32, String) {
        let p = try ChildProcess.start(
            Self.binary, arguments: args + ["--config", config, "--log-level", "error"], environment: env, stdout: .capture(limit: 4 << 20))
        guard let t = await p.exit(timeout: timeout) else {
            _ = await p.exitOrKill(timeout: 0)
            p.waitForOutput(timeout: 2)
            return (-1, p.stdoutText)
        }
        p.waitForOutput(timeout: 10)
        return (t.status, p.stdoutText)
    }

    /// Starts `kraken-audit watch` (logs at info, for the failure messages).
    func startWatch() throws -> ChildProcess {
        try ChildProcess.start(
            Self.binary, arguments: ["watch", "--config", config, "--log-level", "info"], environment: env,
            stdout: .capture(limit: 8 << 20))
    }

    /// Runs `body` with a watch process; afterwards stops it with SIGTERM and expects a clean exit 0.
    func watching(_ body: (ChildProcess) async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let p = try startWatch()
        do {
            try await body(p)
        } catch {
            _ = await p.exitOrKill(timeout: 0)
            p.waitForOutput(timeout: 2)
            Issue.record("watch output: \(p.stdoutText.suffix(6000))", sourceLocation: sourceLocation)
            throw error
        }
        p.signal(SIGTERM)
        let t = await p.exitOrKill(timeout: 30)
        p.waitForOutput(timeout: 5)
        #expect(t?.status == 0, "watch did not stop cleanly on SIGTERM: \(p.stdoutText.suffix(6000))", sourceLocation: sourceLocation)
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass; records the failure with `what` and the
    /// watch process's output.
    func waitUntil(
        _ what: String, seconds: Double = 60, watch: ChildProcess? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        struct Timeout: Error, CustomStringConvertible { let description: String }
        throw Timeout(description: "timed out after \(Int(seconds)) s waiting until \(what)")
    }

    func accountId() throws -> Int {
        try db.query("SELECT id FROM audit.accounts WHERE name = $1", [account]).rows[0].decode(0, as: Int.self)
    }

    func count(_ sql: String, _ binds: [(any PGEncodable)?] = []) throws -> Int {
        try db.query(sql, binds).rows[0].decode(0, as: Int.self)
    }

    /// Connections of the account whose REST gap fill has finished (the stream and REST then cover everything).
    func gapFilledConnections() throws -> Int {
        try count("SELECT count(*) FROM audit.watch_connections WHERE gap_fill_run_id IS NOT NULL")
    }

    /// Waits until a connection (after `previous` gap-filled ones) is subscribed and gap-filled.
    func waitForLiveConnection(after previous: Int = 0, watch: ChildProcess) async throws {
        try await waitUntil("watch is subscribed and has filled the gap from REST", watch: watch) {
            try gapFilledConnections() > previous
        }
    }

    /// Kraken's ledger and trades (REST's truth) against what is stored, by id, in the typed columns: every entry
    /// once, with the exact amounts, whether the stream or REST stored it. Empty when equal.
    func storedVersusTruth() async throws -> [String] {
        let truth = try await sim.state.export(account: account)
        let id = try accountId()
        var problems: [String] = []
        let ledger = try db.query(
            "SELECT ledger_id, refid, asset, amount::text, fee::text, balance::text, extract(epoch FROM time)::text FROM audit.ledger_entries WHERE account_id = $1",
            [id]
        ).rows.map { row in try (0..<7).map { try row.decodeOptional($0) ?? "" } as [String] }
        var stored: [String: [String]] = [:]
        for r in ledger { stored[r[0]] = r }
        for (lid, e) in truth.ledger {
            guard let r = stored.removeValue(forKey: lid) else {
                problems.append("ledger \(lid) missing")
                continue
            }
            let same =
                r[1] == (e["refid"]?.stringValue ?? "") && r[2] == e["asset"]?.stringValue
                && Self.numericallyEqual(r[3], e["amount"]?.stringValue) && Self.numericallyEqual(r[4], e["fee"]?.stringValue)
                && Self.numericallyEqual(r[5], e["balance"]?.stringValue)
                && abs((Double(r[6]) ?? 0) - (Double(e["time"]?.numberText ?? "") ?? -1)) < 0.000_01
            if !same { problems.append("ledger \(lid) differs: stored \(r), Kraken \(e.jsonText)") }
        }
        problems += stored.keys.sorted().map { "ledger \($0) stored but not Kraken's" }
        let trades = try db.query(
            "SELECT txid, pair, price::text, cost::text, fee::text, vol::text, coalesce(ordertxid, '') FROM audit.trades WHERE account_id = $1",
            [id]
        ).rows.map { row in try (0..<7).map { try row.decodeOptional($0) ?? "" } as [String] }
        var storedTrades: [String: [String]] = [:]
        for r in trades { storedTrades[r[0]] = r }
        for (tid, t) in truth.trades {
            guard let r = storedTrades.removeValue(forKey: tid) else {
                problems.append("trade \(tid) missing")
                continue
            }
            let same =
                r[1] == t["pair"]?.stringValue && Self.numericallyEqual(r[2], t["price"]?.stringValue)
                && Self.numericallyEqual(r[3], t["cost"]?.stringValue) && Self.numericallyEqual(r[4], t["fee"]?.stringValue)
                && Self.numericallyEqual(r[5], t["vol"]?.stringValue) && r[6] == (t["ordertxid"]?.stringValue ?? "")
            if !same { problems.append("trade \(tid) differs: stored \(r), Kraken \(t.jsonText)") }
        }
        problems += storedTrades.keys.sorted().map { "trade \($0) stored but not Kraken's" }
        return problems
    }

    /// Waits until the store equals Kraken's truth; fails with the differences.
    func expectStoredEqualsTruth(watch: ChildProcess, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var last: [String] = []
        do {
            try await waitUntil("the stored ledger and trades equal the simulator's", watch: watch) {
                last = try await storedVersusTruth()
                return last.isEmpty
            }
        } catch {
            Issue.record("stored ≠ truth: \(last.prefix(10).joined(separator: "; "))", sourceLocation: sourceLocation)
            throw error
        }
    }

    static func numericallyEqual(_ a: String, _ b: String?) -> Bool {
        guard let b, let x = ExactDecimal(a), let y = ExactDecimal(b) else { return false }
        return x.isNumericallyEqual(to: y)
    }

    /// Every alert payload the hook received so far.
    func alerts() throws -> [JSONValue] {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("alerts").path).filter {
            $0.hasSuffix(".json")
        }
        return try files.sorted().map { try JSONValue.parse(Array(try Data(contentsOf: dir.appendingPathComponent("alerts/\($0)")))) }
    }
}
