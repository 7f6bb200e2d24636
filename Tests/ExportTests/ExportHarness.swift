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

/// A simulator whose keys may export, a migrated database and a collector (after CollectorTests' Harness).
struct ExportHarness {
    let sim: SimulatorServer
    let database: TestDatabase
    let db: PGConnection
    let config: AuditConfiguration
    let logger: Logger
    let exportDir: URL
    /// History end: the start of the current UTC day, so the seam (now − settle) can fall inside the history.
    let end: Int64

    static func start(
        scale: Int = 600, days: Int = 30, permissions: [String]? = nil, backfill: String? = nil,
        configure: (inout SimulatorOptions) -> Void = { _ in }
    ) async throws -> ExportHarness {
        var o = SimulatorOptions()
        let end = Int64(Date().timeIntervalSince1970) / 86_400 * 86_400
        o.endSeconds = end
        o.days = days
        o.scale = scale
        o.accounts = 1
        o.seed = 11
        o.injections = []
        o.maxCounter = 20
        o.decayPerSecond = 200
        o.permissions = permissions ?? ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "export-data"]
        o.exportQueuedSeconds = 0.2
        o.exportProcessingSeconds = 0.3
        configure(&o)
        var logger = Logger(label: "export-test")
        logger.logLevel = .warning
        let sim = try await SimulatorServer.start(o, logger: logger)
        let database = try TestDatabase("export")
        let db = try database.migrated()
        var toml = ConfigText.database(database.url)
        for a in sim.accounts {
            toml += ConfigText.account(
                name: a.name, keyEnv: "UNUSED_KEY", secretEnv: "UNUSED_SECRET", apiURL: sim.baseURL.absoluteString,
                rateLimit: (20, 200), timeoutSeconds: 5, extra: backfill.map { ["backfill = \"\($0)\""] } ?? [])
        }
        let config = try ConfigLoader.parse(toml, path: "test.toml")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-export-\(UUID().uuidString)")
        return ExportHarness(sim: sim, database: database, db: db, config: config, logger: logger, exportDir: dir, end: end)
    }

    func collector(transport: any HTTPTransport = URLSessionTransport()) -> Collector {
        let accounts = sim.accounts
        return Collector(
            config: config,
            credentials: { account in
                guard let a = accounts.first(where: { $0.name == account.name }) else { throw CollectError.configuration("no such simulated account") }
                return KrakenCredentials(apiKey: a.apiKey, secret: Secret(a.secret))
            },
            transport: transport, logger: logger)
    }

    /// Options whose seam falls `pagedDays` before the history's end (so both sides hold rows).
    func options(wait: Bool = false, pagedDays: Double = 2, mode: BackfillMode? = .export) -> CollectOptions {
        let now = Int64(Date().timeIntervalSince1970)
        var export = ExportOptions(mode: mode, wait: wait, waitTimeoutSeconds: 60, pollSeconds: 0.1, directory: exportDir)
        export.settleSeconds = now - end + Int64(pagedDays * 86_400)
        // A one-day overlap so the seam holds rows read by both sides (the default 600 s may hold none here).
        return CollectOptions(overlapSeconds: 86_400, retry: RetryPolicy(maxAttempts: 6, baseDelay: 0.01, maxDelay: 0.05), export: export)
    }

    func collect(_ options: CollectOptions, transport: any HTTPTransport = URLSessionTransport()) async -> AccountOutcome {
        await collector(transport: transport).collect(options: options)[0]
    }

    func advanceClock(_ seconds: Double) async {
        let current = await sim.state.clockOffsetSeconds
        await sim.state.setClockOffset(current + seconds)
    }

    func count(_ sql: String, _ binds: [(any PGEncodable)?] = []) throws -> Int {
        try db.query(sql, binds).rows[0].decode(0, as: Int.self)
    }

    func exportStatuses() throws -> [String] {
        try db.query("SELECT report || '=' || status FROM audit.exports e WHERE id IN (SELECT max(id) FROM audit.exports GROUP BY report) ORDER BY report").rows.map { try $0.decode(0, as: String.self) }
    }

    /// The stored ledger and trades equal the simulator's (REST) truth after normalisation: every id once,
    /// nothing more; names, ids and numbers equal (numerically); times equal at whole seconds.
    func expectStoredEqualsTruth(_ account: String = "acct1", sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let truth = try await sim.state.export(account: account)
        try db.executeScript("CREATE TEMP TABLE IF NOT EXISTS truth (kind text, id text, raw jsonb); TRUNCATE truth;")
        var rows: [[(any PGEncodable)?]] = []
        for (i, v) in truth.ledger { rows.append(["ledger", i, v.jsonText]) }
        for (i, v) in truth.trades { rows.append(["trade", i, v.jsonText]) }
        try db.copyIn("truth (kind, id, raw)", rows: rows)
        let checks: [(String, String)] = [
            ("ledger", """
                SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'ledger') t
                  FULL JOIN audit.ledger_entries l ON l.ledger_id = t.id
                 WHERE t.id IS NULL OR l.ledger_id IS NULL OR l.refid IS DISTINCT FROM t.raw->>'refid' OR l.type <> t.raw->>'type'
                    OR l.subtype <> t.raw->>'subtype' OR l.asset <> t.raw->>'asset' OR l.amount <> (t.raw->>'amount')::numeric
                    OR l.fee <> (t.raw->>'fee')::numeric OR l.balance <> (t.raw->>'balance')::numeric
                    OR date_trunc('second', l.time) <> date_trunc('second', to_timestamp((t.raw->>'time')::numeric))
                """),
            ("trades", """
                SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'trade') t
                  FULL JOIN audit.trades l ON l.txid = t.id
                 WHERE t.id IS NULL OR l.txid IS NULL OR l.ordertxid <> t.raw->>'ordertxid' OR l.pair <> t.raw->>'pair'
                    OR l.type <> t.raw->>'type' OR l.price <> (t.raw->>'price')::numeric OR l.cost <> (t.raw->>'cost')::numeric
                    OR l.fee <> (t.raw->>'fee')::numeric OR l.vol <> (t.raw->>'vol')::numeric
                    OR date_trunc('second', l.time) <> date_trunc('second', to_timestamp((t.raw->>'time')::numeric))
                """),
        ]
        for (name, sql) in checks {
            let bad = try count(sql)
            #expect(bad == 0, "\(name): \(bad) rows differ from the simulator's truth", sourceLocation: sourceLocation)
        }
        #expect(try count("SELECT count(*) FROM audit.ledger_entries") == truth.ledger.count, sourceLocation: sourceLocation)
        #expect(try count("SELECT count(*) FROM audit.trades") == truth.trades.count, sourceLocation: sourceLocation)
    }
}
