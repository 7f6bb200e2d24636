import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import Operations
import Reports
import TestSupport
import Testing

/// Issue 14, item 14: a key configured as `tier = "pro"` that Kraken treats as Starter. The collector steps its
/// assumed counter down after Kraken's first rate-limit errors, completes the run with exact data, keeps what it
/// learned for the next run, and says so in the log, the report and `doctor`; a changed config forgets it.
@Suite(.serialized) struct TierLearningTests {
    static let end: Int64 = 1_793_491_200

    struct Setup {
        let sim: SimulatorServer
        let database: TestDatabase
        let db: PGConnection
        let env: [String: String]
        let account: String
    }

    /// Runs `body` with a simulator with Kraken's real Starter limits (15, 0.33/s) and a database
    /// (``withSimulatedCollection(_:_:)``, torn down after `body`, awaited); data big enough that a run needs well
    /// over 15 counter points. The tests write their own configurations (``config(_:tierLine:)``).
    static func withSetup(_ body: (Setup) async throws -> Void) async throws {
        let setup = SimulatedCollection.Setup(
            accounts: 1, scale: 200, days: 30, seed: 23, endSeconds: end, databasePrefix: "tier", logLabel: "tier-sim"
        ) { o in
            o.tier = .starter
            // The tier's own counter, not the harness's fast default.
            o.maxCounter = nil
            o.decayPerSecond = nil
        }
        try await withSimulatedCollection(setup) { h in
            let a = h.sim.accounts[0]
            try await body(
                Setup(sim: h.sim, database: h.database, db: h.db, env: ["TIER_KEY": a.apiKey, "TIER_SECRET": a.secret], account: a.name))
        }
    }

    static func config(_ s: Setup, tierLine: String) throws -> AuditConfiguration {
        let toml =
            ConfigText.database(s.database.url)
            + ConfigText.account(
                name: s.account, keyEnv: "TIER_KEY", secretEnv: "TIER_SECRET", apiURL: s.sim.baseURL.absoluteString,
                timeoutSeconds: 10, extra: [tierLine])
        return try ConfigLoader.parse(toml, path: "tier.toml")
    }

    static func collect(_ s: Setup, _ config: AuditConfiguration, logs: CapturedLogs, full: Bool = false) async -> [AccountOutcome] {
        let env = AuditEnvironment(
            config: config, sqlDirectory: TestDatabase.sqlDirectory.path, logger: logs.logger(label: "tier-test", level: .info))
        let collector = Collector(
            config: config, credentials: { account in try env.credentials(for: account, reader: SecretReader(environment: s.env)) },
            transport: URLSessionTransport(), logger: logs.logger(label: "tier-test", level: .info))
        return await collector.collect(options: CollectOptions(full: full))
    }

    static func doctor(_ s: Setup, _ config: AuditConfiguration) async -> [DoctorCheck] {
        await Doctor(
            environment: AuditEnvironment(config: config, sqlDirectory: TestDatabase.sqlDirectory.path, logger: TestDatabase.logger),
            secrets: SecretReader(environment: s.env), transport: URLSessionTransport()
        ).run()
    }

    /// Rate-limit errors in the call log: (time, retry, nonce) of each, oldest first.
    static func rateLimitErrors(_ s: Setup, runIds: [Int64]) throws -> [(Date, Int, Int64)] {
        try s.db.query(
            """
            SELECT started_at, retry, nonce FROM audit.api_calls
             WHERE run_id = ANY($1::bigint[]) AND 'EAPI:Rate limit exceeded' = ANY(errors) ORDER BY id
            """, ["{" + runIds.map(String.init).joined(separator: ",") + "}"]
        ).rows.map { r in (try r.decode(0, as: Date.self), try r.decode(1, as: Int.self), try r.decode(2, as: Int64.self)) }
    }

    /// Every stored ledger entry, trade, order, withdrawal and deposit equals the simulator's (raw JSON), none missing.
    static func expectStoredEqualsTruth(_ s: Setup, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let truth = try await s.sim.state.export(account: s.account)
        let id = try s.db.query("SELECT id FROM audit.accounts WHERE name = $1", [s.account]).rows[0].decode(0, as: Int.self)
        try s.db.executeScript("CREATE TEMP TABLE IF NOT EXISTS truth (kind text, id text, raw jsonb); TRUNCATE truth;")
        var rows: [[(any PGEncodable)?]] = []
        for (i, v) in truth.ledger { rows.append(["ledger", i, v.jsonText]) }
        for (i, v) in truth.trades { rows.append(["trade", i, v.jsonText]) }
        for (i, v) in truth.orders { rows.append(["order", i, v.jsonText]) }
        for v in truth.withdrawals { rows.append(["withdrawal", v["refid"]?.stringValue, v.jsonText]) }
        for v in truth.deposits { rows.append(["deposit", v["refid"]?.stringValue, v.jsonText]) }
        try s.db.copyIn("truth (kind, id, raw)", rows: rows)
        let checks: [(String, String)] = [
            (
                "ledger", "SELECT id, raw FROM truth WHERE kind = 'ledger'",
                "SELECT ledger_id, raw FROM audit.ledger_entries WHERE account_id = $1"
            ),
            (
                "trades", "SELECT id, raw - 'ledgers' AS raw FROM truth WHERE kind = 'trade'",
                "SELECT txid, raw - 'ledgers' AS raw FROM audit.trades WHERE account_id = $1"
            ),
            ("orders", "SELECT id, raw FROM truth WHERE kind = 'order'", "SELECT txid, raw FROM audit.orders WHERE account_id = $1"),
            (
                "withdrawals", "SELECT id, raw FROM truth WHERE kind = 'withdrawal'",
                "SELECT refid, raw FROM audit.withdrawals WHERE account_id = $1"
            ),
            ("deposits", "SELECT id, raw FROM truth WHERE kind = 'deposit'", "SELECT refid, raw FROM audit.deposits WHERE account_id = $1"),
        ].map {
            (
                $0.0,
                "SELECT count(*) FROM (\($0.1)) t(id, raw) FULL JOIN (\($0.2)) l(id, raw) ON l.id = t.id WHERE l.raw IS DISTINCT FROM t.raw"
            )
        }
        for (name, sql) in checks {
            let bad = try s.db.query(sql, [id]).rows[0].decode(0, as: Int.self)
            #expect(bad == 0, "\(name): \(bad) rows differ from the simulator's truth", sourceLocation: sourceLocation)
        }
        #expect(truth.ledger.count > 100, sourceLocation: sourceLocation)
    }

    /// A night that needs no waiting on the counter left by the run before (hours pass between nightly runs).
    static func nextNight(_ s: Setup) async throws {
        try await s.sim.state.resetCounters()
        try s.db.execute("UPDATE audit.api_keys SET counter_value = 0")
    }

    @Test func proConfiguredStarterKeyStepsDownCompletesAndRemembers() async throws {
        try await Self.withSetup { s in
            let pro = try Self.config(s, tierLine: "tier = \"pro\"")
            let logs = CapturedLogs()

            // Night 1: pro pacing overruns Starter's counter; the collector steps down and completes.
            let first = await Self.collect(s, pro, logs: logs)
            #expect(first.count == 1)
            #expect(first.allSatisfy { $0.succeeded }, "\(first.map { "\($0.error.map { "\($0)" } ?? "ok")" })")
            try await Self.expectStoredEqualsTruth(s)
            let run1 = try #require(first.first?.runId)
            let sim1 = try await s.sim.state.counter(account: s.account)
            let errors1 = try Self.rateLimitErrors(s, runIds: [run1])
            // pro -> intermediate -> starter: at most one error per step, none once paced as Starter.
            #expect((1...2).contains(errors1.count), "rate-limit errors: \(errors1.count)")
            #expect(sim1.rateLimited == errors1.count)
            let learned = try #require(
                try LearnedPacing.load(
                    on: s.db, fingerprint: KrakenCredentials(apiKey: s.env["TIER_KEY"]!, secret: Secret(s.env["TIER_SECRET"]!)).fingerprint)
            )
            #expect(learned.max == 15 && learned.decayPerSecond == 0.33)
            #expect(learned.summary == "key behaves like tier starter, config says pro")
            #expect(learned.reason.contains("EAPI:Rate limit exceeded"))
            // Every rate-limit error came before the (last) step down; calls after it all succeeded.
            for e in errors1 { #expect(e.0 <= learned.learnedAt.addingTimeInterval(1)) }
            let after = try s.db.query(
                "SELECT count(*), count(*) FILTER (WHERE error_kind IS NOT NULL) FROM audit.api_calls WHERE run_id = $1 AND started_at > $2",
                [run1, learned.learnedAt]
            ).rows[0]
            #expect(try after.decode(0, as: Int.self) > 5)
            #expect(try after.decode(1, as: Int.self) == 0)
            // Each rate-limited call was retried with a fresh nonce, counted as an attempt, after waiting for the
            // counter to decay by the retry's cost at the lowered decay (>= 2 * cost / 0.5 s; 1.25-2.25 s before).
            for e in errors1 {
                let next = try s.db.query(
                    "SELECT started_at, retry, nonce, endpoint FROM audit.api_calls WHERE run_id = $1 AND nonce > $2 ORDER BY nonce LIMIT 1",
                    [run1, e.2]
                ).rows[0]
                let gap = try next.decode(0, as: Date.self).timeIntervalSince(e.0)
                #expect(try next.decode(1, as: Int.self) == e.1 + 1, "the retry counts as an attempt")
                #expect(gap >= 3.9, "retried after \(gap) s")
            }
            // Said once in the log: one warning per key and run, with the facts as metadata.
            let warnings = logs.records.filter { $0.level == .warning && $0.message.contains("lower tier") }
            #expect(warnings.count == 1)
            #expect(warnings.first?.metadata["behaves_like"] == "tier starter")
            #expect(warnings.first?.metadata["config_says"] == "pro")

            // Doctor and the report say it.
            let checks = await Self.doctor(s, pro)
            let pacing = try #require(
                checks.first { $0.detail.hasPrefix("pacing:") }, "doctor said: \(checks.map { "\($0.status) \($0.detail)" })")
            #expect(pacing.status == .warning)
            #expect(pacing.detail.contains("key behaves like tier starter, config says pro"), "\(pacing.detail)")
            #expect(pacing.fix?.contains("tier = \"starter\"") == true)
            let env = AuditEnvironment(config: pro, sqlDirectory: TestDatabase.sqlDirectory.path, logger: TestDatabase.logger)
            let report = try env.buildReport(since: Date().addingTimeInterval(-3600), until: Date().addingTimeInterval(60), accounts: [])
            #expect(report.render(.markdown).contains("Pacing: key behaves like tier starter, config says pro"))
            #expect(report.render(.html).contains("key behaves like tier starter, config says pro"))
            #expect(report.render(.json).contains("\"pacing_notes\":[\"key behaves like tier starter, config says pro"))

            // Night 2: everything again (as much work as night 1), starting with the learned counter: no errors.
            try await Self.nextNight(s)
            let simBefore2 = try await s.sim.state.counter(account: s.account)
            logs.clear()
            let second = await Self.collect(s, pro, logs: logs, full: true)
            #expect(second.allSatisfy { $0.succeeded })
            let run2 = try #require(second.first?.runId)
            #expect(try Self.rateLimitErrors(s, runIds: [run2]).isEmpty)
            let sim2 = try await s.sim.state.counter(account: s.account)
            #expect(sim2.rateLimited == simBefore2.rateLimited)
            #expect(sim2.maxCounterEver <= 15)
            #expect(try s.db.query("SELECT count(*) FROM audit.api_calls WHERE run_id = $1", [run2]).rows[0].decode(0, as: Int.self) > 10)
            try await Self.expectStoredEqualsTruth(s)
            #expect(logs.records.filter { $0.level == .warning && $0.message.contains("lower tier") }.count == 1)

            // The user fixes the config: doctor says the correction no longer applies; the next run forgets it.
            let starter = try Self.config(s, tierLine: "tier = \"starter\"")
            let fixed = try #require(await Self.doctor(s, starter).first { $0.detail.hasPrefix("pacing:") })
            #expect(fixed.status == .ok)
            #expect(fixed.detail.contains("no longer applies"))
            try await Self.nextNight(s)
            logs.clear()
            let third = await Self.collect(s, starter, logs: logs)
            #expect(third.allSatisfy { $0.succeeded })
            #expect(
                try s.db.query("SELECT count(*) FROM audit.api_keys WHERE learned_max IS NOT NULL").rows[0].decode(0, as: Int.self) == 0)
            #expect(!logs.records.contains { $0.level == .warning && $0.message.contains("lower tier") })
            let clean = try #require(await Self.doctor(s, starter).first { $0.detail.hasPrefix("pacing:") })
            #expect(clean.status == .ok && clean.detail.contains("as configured (starter)"))
        }
    }
}
