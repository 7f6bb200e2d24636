import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// A simulator + a migrated database + a collector configured for the simulator's accounts.
struct Harness {
    let sim: SimulatorServer
    let database: TestDatabase
    let db: PGConnection
    let config: AuditConfiguration
    let logger: Logger

    /// 2026-11-01T00:00:00Z: histories are pinned so runs are reproducible.
    static let end: Int64 = 1_793_491_200

    static func start(
        accounts: Int = 1, scale: Int = 400, days: Int = 60, max: Double = 20, decay: Double = 200, seed: UInt64 = 7,
        configure: (inout SimulatorOptions) -> Void = { _ in }
    ) async throws -> Harness {
        var o = SimulatorOptions()
        o.endSeconds = end
        o.days = days
        o.scale = scale
        o.accounts = accounts
        o.seed = seed
        o.injections = []
        o.maxCounter = max
        o.decayPerSecond = decay
        configure(&o)
        var logger = Logger(label: "collector-test")
        logger.logLevel = .warning
        let sim = try await SimulatorServer.start(o, logger: logger)
        let database = try TestDatabase("collect")
        let db = try database.migrated()
        var toml = ConfigText.database(database.url)
        for a in sim.accounts {
            toml += ConfigText.account(
                name: a.name, keyEnv: "UNUSED_KEY", secretEnv: "UNUSED_SECRET", apiURL: sim.baseURL.absoluteString,
                rateLimit: (max, decay), timeoutSeconds: 5)
        }
        let config = try ConfigLoader.parse(toml, path: "test.toml")
        return Harness(sim: sim, database: database, db: db, config: config, logger: logger)
    }

    func collector() -> Collector {
        let accounts = sim.accounts
        return Collector(
            config: config,
            credentials: { account in
                guard let a = accounts.first(where: { $0.name == account.name }) else { throw CollectError.configuration("no such simulated account") }
                return KrakenCredentials(apiKey: a.apiKey, secret: Secret(a.secret))
            },
            transport: URLSessionTransport(), logger: logger)
    }

    static let fastRetry = RetryPolicy(maxAttempts: 6, baseDelay: 0.01, maxDelay: 0.05)

    func collect(_ accounts: [String] = [], options: CollectOptions = CollectOptions(retry: Harness.fastRetry)) async -> [AccountOutcome] {
        await collector().collect(accounts: accounts, options: options)
    }

    /// Moves the simulator's wall clock forward, as time passes between nightly runs.
    func advanceClock(_ seconds: Double) async {
        let current = await sim.state.clockOffsetSeconds
        await sim.state.setClockOffset(current + seconds)
    }

    func accountId(_ name: String) throws -> Int {
        try db.query("SELECT id FROM audit.accounts WHERE name = $1", [name]).rows[0].decode(0, as: Int.self)
    }

    func count(_ sql: String, _ binds: [(any PGEncodable)?] = []) throws -> Int {
        try db.query(sql, binds).rows[0].decode(0, as: Int.self)
    }

    /// Asserts the database holds exactly the simulator's history for `account`: every id, every field
    /// (raw JSON and typed columns, exact decimals), nothing more.
    func expectStoredEqualsTruth(_ account: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let truth = try await sim.state.export(account: account)
        let id = try accountId(account)
        try db.executeScript(
            "CREATE TEMP TABLE IF NOT EXISTS truth (kind text, id text, raw jsonb); TRUNCATE truth;")
        var rows: [[(any PGEncodable)?]] = []
        for (i, v) in truth.ledger { rows.append(["ledger", i, v.jsonText]) }
        for (i, v) in truth.trades { rows.append(["trade", i, v.jsonText]) }
        for (i, v) in truth.orders { rows.append(["order", i, v.jsonText]) }
        for v in truth.withdrawals { rows.append(["withdrawal", v["refid"]?.stringValue, v.jsonText]) }
        for v in truth.deposits { rows.append(["deposit", v["refid"]?.stringValue, v.jsonText]) }
        try db.copyIn("truth (kind, id, raw)", rows: rows)
        let checks: [(String, String)] = [
            ("ledger", "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'ledger') t FULL JOIN (SELECT ledger_id, raw FROM audit.ledger_entries WHERE account_id = $1) l ON l.ledger_id = t.id WHERE l.raw IS DISTINCT FROM t.raw"),
            ("trades", "SELECT count(*) FROM (SELECT id, raw - 'ledgers' AS raw FROM truth WHERE kind = 'trade') t FULL JOIN (SELECT txid, raw - 'ledgers' AS raw FROM audit.trades WHERE account_id = $1) l ON l.txid = t.id WHERE l.raw IS DISTINCT FROM t.raw"),
            ("orders", "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'order') t FULL JOIN (SELECT txid, raw FROM audit.orders WHERE account_id = $1) l ON l.txid = t.id WHERE l.raw IS DISTINCT FROM t.raw"),
            ("withdrawals", "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'withdrawal') t FULL JOIN (SELECT refid, raw FROM audit.withdrawals WHERE account_id = $1) l ON l.refid = t.id WHERE l.raw IS DISTINCT FROM t.raw"),
            ("deposits", "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'deposit') t FULL JOIN (SELECT refid, raw FROM audit.deposits WHERE account_id = $1) l ON l.refid = t.id WHERE l.raw IS DISTINCT FROM t.raw"),
            // Typed columns hold exactly the text Kraken sent (NUMERIC keeps the scale) and the exact time.
            ("ledger columns", "SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1 AND (amount::text <> raw->>'amount' OR fee::text <> raw->>'fee' OR balance::text <> raw->>'balance' OR abs(extract(epoch FROM time) - (raw->>'time')::numeric) > 0.000001 OR asset <> raw->>'asset' OR refid IS DISTINCT FROM raw->>'refid')"),
            ("trade columns", "SELECT count(*) FROM audit.trades WHERE account_id = $1 AND (price::text <> raw->>'price' OR cost::text <> raw->>'cost' OR fee::text <> raw->>'fee' OR vol::text <> raw->>'vol' OR pair <> raw->>'pair' OR ordertxid <> raw->>'ordertxid')"),
            ("order columns", "SELECT count(*) FROM audit.orders WHERE account_id = $1 AND (status <> raw->>'status' OR vol_exec::text <> raw->>'vol_exec' OR descr_pair <> raw->'descr'->>'pair')"),
            ("withdrawal columns", "SELECT count(*) FROM audit.withdrawals WHERE account_id = $1 AND (amount::text <> raw->>'amount' OR info IS DISTINCT FROM raw->>'info' OR key IS DISTINCT FROM raw->>'key')"),
        ]
        for (name, sql) in checks {
            let bad = try count(sql, [id])
            #expect(bad == 0, "\(name): \(bad) rows differ from the simulator's truth", sourceLocation: sourceLocation)
        }
        let expected = [truth.ledger.count, truth.trades.count, truth.orders.count]
        let stored = [
            try count("SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1", [id]),
            try count("SELECT count(*) FROM audit.trades WHERE account_id = $1", [id]),
            try count("SELECT count(*) FROM audit.orders WHERE account_id = $1", [id]),
        ]
        #expect(stored == expected, sourceLocation: sourceLocation)
    }
}
