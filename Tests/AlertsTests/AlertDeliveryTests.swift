import Alerts
import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import TestSupport
import Testing

/// Shared fixtures: a migrated database with findings queued in the outbox, and hook scripts.
struct AlertFixture {
    let database: TestDatabase
    let db: PGConnection
    let dir: URL

    init(_ name: String) throws {
        database = try TestDatabase(name)
        db = try database.migrated()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    /// Inserts a finding with an outbox row (as the analyser does in one transaction); returns its id.
    @discardableResult
    func finding(
        account: String = "main", severity: String = "high", title: String = "Withdrawal of 35 XETH to an address not in the allowlist",
        runId: Int64? = nil, key: String = UUID().uuidString
    ) throws -> Int64 {
        let accountId = try AccountStore.ensure(on: db, name: account)
        return try db.transaction { () throws -> Int64 in
            let id = try db.query(
                """
                INSERT INTO audit.findings (rule_id, severity, account_id, entity_type, entity_id, title, evidence, dedupe_key, occurred_at, last_run_id)
                VALUES ('unexpected_withdrawal', $1, $2, 'withdrawal', 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg', $3, '{"amount":"35.0000000000","asset":"XETH"}', $4, now(), $5) RETURNING id
                """, [severity, accountId, title, key, runId]
            ).rows[0].decode(0, as: Int64.self)
            try db.execute(
                "INSERT INTO audit.alert_outbox (finding_id, event, run_id, severity) VALUES ($1, 'new', $2, $3)", [id, runId, severity])
            return id
        }
    }

    func run(_ name: String = "analyse") throws -> Int64 {
        try db.query("INSERT INTO audit.collector_runs (command, status) VALUES ($1, 'success') RETURNING id", [name]).rows[0].decode(
            0, as: Int64.self)
    }

    /// A hook script; `body` is shell. It records each call's stdin and environment in dir/calls/N.*
    func hook(_ body: String) throws -> String {
        let path = dir.appendingPathComponent("hook-\(UUID().uuidString.prefix(6)).sh").path
        let script = """
            #!/bin/sh
            mkdir -p '\(dir.path)/calls'
            n=$(ls '\(dir.path)/calls' | grep -c '.json$' || true)
            n=$((n + 1))
            cat > '\(dir.path)/calls/'$n.json
            env > '\(dir.path)/calls/'$n.env
            \(body)
            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    var calls: [(payload: JSONValue, env: String)] {
        let callDir = dir.appendingPathComponent("calls")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: callDir.path)) ?? []).filter { $0.hasSuffix(".json") }
            .sorted { Int($0.dropLast(5)) ?? 0 < Int($1.dropLast(5)) ?? 0 }
        return files.compactMap { f in
            let stem = String(f.dropLast(5))
            guard let data = FileManager.default.contents(atPath: callDir.appendingPathComponent(f).path),
                let payload = try? JSONValue.parse(Array(data))
            else { return nil }
            let env = (try? String(contentsOfFile: callDir.appendingPathComponent(stem + ".env").path, encoding: .utf8)) ?? ""
            return (payload, env)
        }
    }

    func delivery(hook: String, timeout: Double = 5, environment: [String: String] = [:], notifyResolved: Bool = false) -> AlertDelivery {
        AlertDelivery(
            config: AlertsConfig(
                hook: hook, minSeverity: "medium", timeoutSeconds: timeout, renotifyAfterHours: 24, notifyResolved: notifyResolved),
            timezone: TimeZone(identifier: "Europe/Berlin")!, environment: environment, logger: TestDatabase.logger)
    }
}

@Suite struct AlertDeliveryTests {
    @Test func oneFindingOneCallEvenWhenRunTwice() throws {
        let fx = try AlertFixture("alerts1")
        let run = try fx.run()
        try fx.finding(severity: "high", runId: run)
        try fx.finding(severity: "critical", title: "Second", runId: run)
        try fx.finding(account: "other", severity: "medium", runId: run)
        let d = fx.delivery(hook: try fx.hook("exit 0"))
        let first = try d.deliverPending(on: fx.db)
        #expect(first.calls == 2)  // grouped: one call per (run, account)
        #expect(first.delivered == 3)
        #expect(first.pending == 0)
        let second = try d.deliverPending(on: fx.db)
        #expect(second.calls == 0)
        let calls = fx.calls
        #expect(calls.count == 2)
        let main = try #require(calls.first { $0.payload["account"]?.stringValue == "main" })
        #expect(main.payload["schema"]?.stringValue == "kraken-audit.alert/1")
        #expect(main.payload["findings"]?.arrayValue?.count == 2)
        #expect(main.payload["max_severity"]?.stringValue == "critical")
        #expect(main.payload["subject"]?.stringValue == "[kraken-audit] 2 critical findings on account main")
        #expect(main.payload["findings"]?.arrayValue?.first?["severity"]?.stringValue == "critical")
        #expect(main.env.contains("KRAKEN_AUDIT_DELIVERY_ID=\(main.payload["delivery_id"]?.stringValue ?? "?")"))
    }

    @Test func failingHookIsRetriedThenSucceedsOnce() throws {
        let fx = try AlertFixture("alerts2")
        try fx.finding(runId: try fx.run())
        let flag = fx.dir.appendingPathComponent("ok").path
        // Fails until the flag file exists.
        let hook = try fx.hook("[ -f '\(flag)' ] || { echo 'smtp down' >&2; exit 1; }")
        let d = fx.delivery(hook: hook)
        let first = try d.deliverPending(on: fx.db)
        #expect(first.failed == 1 && first.delivered == 0 && first.pending == 1)
        let row = try fx.db.query("SELECT attempts, last_error, next_attempt_at > now() FROM audit.alert_outbox").rows[0]
        #expect(try row.decode(0, as: Int.self) == 1)
        #expect(try row.decode(1, as: String.self).contains("smtp down"))
        #expect(try row.decode(2, as: Bool.self))  // backoff
        // Not due yet: nothing happens.
        #expect(try d.deliverPending(on: fx.db).calls == 0)
        _ = FileManager.default.createFile(atPath: flag, contents: Data())
        let later = try d.deliverPending(on: fx.db, now: Date().addingTimeInterval(3600))
        #expect(later.delivered == 1)
        #expect(try d.deliverPending(on: fx.db, now: Date().addingTimeInterval(7200)).calls == 0)
        let ids = fx.calls.map { $0.payload["delivery_id"]?.stringValue }
        #expect(ids.count == 2 && ids[0] == ids[1])  // the retry carries the same delivery id
    }

    @Test func hangingHookTimesOutAndIsRetried() throws {
        let fx = try AlertFixture("alerts3")
        try fx.finding(runId: try fx.run())
        let d = fx.delivery(hook: try fx.hook("sleep 60"), timeout: 1)
        let started = Date()
        let s = try d.deliverPending(on: fx.db)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(s.failed == 1)
        let error = try fx.db.query("SELECT last_error FROM audit.alert_outbox").rows[0].decode(0, as: String.self)
        #expect(error.contains("timeout"))
    }

    @Test func deliveryInterruptedBeforeMarkingIsResentWithTheSameId() throws {
        let fx = try AlertFixture("alerts4")
        try fx.finding(runId: try fx.run())
        // As if a previous process fixed the delivery id and was killed while the hook ran.
        try fx.db.execute("UPDATE audit.alert_outbox SET delivery_id = 'dlv-killed-1'")
        let s = try fx.delivery(hook: try fx.hook("exit 0")).deliverPending(on: fx.db)
        #expect(s.delivered == 1)
        #expect(fx.calls.first?.payload["delivery_id"]?.stringValue == "dlv-killed-1")
    }

    @Test func payloadAndEnvironmentHoldNoSecret() throws {
        let fx = try AlertFixture("alerts5")
        try fx.finding(runId: try fx.run())
        let secret = "S3cr3t-\(UUID().uuidString)"
        let env = [
            "KRAKEN_MAIN_SECRET": secret, "KRAKEN_MAIN_KEY": secret, "PGPASSWORD": secret, "ALERT_TO": "ops@example.org", "HOME": "/root",
        ]
        _ = try fx.delivery(hook: try fx.hook("exit 0"), environment: env).deliverPending(on: fx.db)
        let call = try #require(fx.calls.first)
        #expect(!call.payload.jsonText.contains(secret))
        #expect(!call.env.contains(secret))
        #expect(call.env.contains("ALERT_TO=ops@example.org"))
        #expect(!call.env.contains("HOME="))
    }

    @Test func hostileHooksCannotHangUs() throws {
        let fx = try AlertFixture("alerts6")
        try fx.finding(runId: try fx.run())
        let d1 = fx.delivery(hook: try fx.hook("yes 'flood' & yes 'err' >&2 & sleep 30"), timeout: 1)
        var started = Date()
        #expect(try d1.deliverPending(on: fx.db).failed == 1)
        #expect(Date().timeIntervalSince(started) < 8)
        // Forks a child that keeps stdout open, and exits 0 at once: delivered, and we do not wait for the child.
        let d2 = fx.delivery(hook: try fx.hook("(sleep 30; echo late) & exit 0"), timeout: 5)
        started = Date()
        let s = try d2.deliverPending(on: fx.db, now: Date().addingTimeInterval(86400))
        #expect(s.delivered == 1)
        #expect(Date().timeIntervalSince(started) < 8)
    }

    @Test func missingHookIsAConfigError() throws {
        let fx = try AlertFixture("alerts7")
        #expect(throws: AlertError.self) { try fx.delivery(hook: "/nonexistent/hook").deliverPending(on: fx.db) }
    }

    @Test func testAlertReachesTheHook() throws {
        let fx = try AlertFixture("alerts8")
        let result = try fx.delivery(hook: try fx.hook("exit 0")).sendTest()
        #expect(result.succeeded)
        #expect(fx.calls.first?.payload["test"] == .bool(true))
        #expect(try fx.db.query("SELECT count(*) FROM audit.alert_outbox").rows[0].decode(0, as: Int.self) == 0)
    }

    @Test func resolvedNotificationWhenConfigured() throws {
        let fx = try AlertFixture("alerts9")
        let id = try fx.finding(runId: try fx.run())
        let d = fx.delivery(hook: try fx.hook("exit 0"), notifyResolved: true)
        #expect(try d.deliverPending(on: fx.db).delivered == 1)
        try fx.db.execute("UPDATE audit.findings SET status = 'resolved', status_changed_at = now() WHERE id = $1", [id])
        let s = try d.deliverPending(on: fx.db)
        #expect(s.calls == 1)
        #expect(fx.calls.last?.payload["event"]?.stringValue == "resolved")
        #expect(fx.calls.last?.payload["subject"]?.stringValue == "[kraken-audit] 1 resolved finding on account main")
        #expect(try d.deliverPending(on: fx.db).calls == 0)
    }
}
