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

/// ExportTests' harness: ``SimulatedCollection`` with keys that may export, a history ending at the start of the
/// current UTC day (so the seam, now − settle, can fall inside it) and fast export processing.
typealias ExportHarness = SimulatedCollection

extension SimulatedCollection {
    /// Runs `body` with one simulated account (`permissions` default to everything including `export-data`;
    /// `backfill`, when given, is the account's `backfill` setting), torn down afterwards.
    static func with(
        scale: Int = 600, days: Int = 30, permissions: [String]? = nil, backfill: String? = nil,
        configure: (inout SimulatorOptions) -> Void = { _ in }, _ body: (SimulatedCollection) async throws -> Void
    ) async throws {
        let setup = Setup(
            accounts: 1, scale: scale, days: days, maxCounter: 20, decayPerSecond: 200, seed: 11,
            endSeconds: Int64(Date().timeIntervalSince1970) / 86_400 * 86_400,
            accountLines: backfill.map { ["backfill = \"\($0)\""] } ?? [], databasePrefix: "export", logLabel: "export-test"
        ) { o in
            o.permissions = permissions ?? ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "export-data"]
            o.exportQueuedSeconds = 0.2
            o.exportProcessingSeconds = 0.3
            configure(&o)
        }
        try await withSimulatedCollection(setup, body)
    }

    /// Where this test's export files go (``SimulatedCollection/exportDirectory``).
    var exportDir: URL { exportDirectory }
    /// The history's end (the start of the current UTC day).
    var end: Int64 { setup.historyEnd }

    /// Options whose seam falls `pagedDays` before the history's end (so both sides hold rows).
    func options(wait: Bool = false, pagedDays: Double = 2, mode: BackfillMode? = .export) -> CollectOptions {
        let now = Int64(Date().timeIntervalSince1970)
        var export = ExportOptions(mode: mode, wait: wait, waitTimeoutSeconds: 60, pollSeconds: 0.1, directory: exportDir)
        export.settleSeconds = now - end + Int64(pagedDays * 86_400)
        // A four-day overlap so the seam holds rows read by both sides (the default 600 s may hold none here, and the
        // simulated accounts trade on business days: one day before the seam fell on a weekend every Tuesday).
        return CollectOptions(
            overlapSeconds: 4 * 86_400, retry: RetryPolicy(maxAttempts: 6, baseDelay: 0.01, maxDelay: 0.05), export: export)
    }

    func collect(_ options: CollectOptions, transport: any HTTPTransport = URLSessionTransport()) async -> AccountOutcome {
        await collect([], options: options, transport: transport)[0]
    }

    func exportStatuses() throws -> [String] {
        try db.query(
            "SELECT report || '=' || status FROM audit.exports e WHERE id IN (SELECT max(id) FROM audit.exports GROUP BY report) ORDER BY report"
        ).rows.map { try $0.decode(0, as: String.self) }
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
            (
                "ledger",
                """
                SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'ledger') t
                  FULL JOIN audit.ledger_entries l ON l.ledger_id = t.id
                 WHERE t.id IS NULL OR l.ledger_id IS NULL OR l.refid IS DISTINCT FROM t.raw->>'refid' OR l.type <> t.raw->>'type'
                    OR l.subtype <> t.raw->>'subtype' OR l.asset <> t.raw->>'asset' OR l.amount <> (t.raw->>'amount')::numeric
                    OR l.fee <> (t.raw->>'fee')::numeric OR l.balance <> (t.raw->>'balance')::numeric
                    OR date_trunc('second', l.time) <> date_trunc('second', to_timestamp((t.raw->>'time')::numeric))
                """
            ),
            (
                "trades",
                """
                SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'trade') t
                  FULL JOIN audit.trades l ON l.txid = t.id
                 WHERE t.id IS NULL OR l.txid IS NULL OR l.ordertxid <> t.raw->>'ordertxid' OR l.pair <> t.raw->>'pair'
                    OR l.type <> t.raw->>'type' OR l.price <> (t.raw->>'price')::numeric OR l.cost <> (t.raw->>'cost')::numeric
                    OR l.fee <> (t.raw->>'fee')::numeric OR l.vol <> (t.raw->>'vol')::numeric
                    OR date_trunc('second', l.time) <> date_trunc('second', to_timestamp((t.raw->>'time')::numeric))
                """
            ),
        ]
        for (name, sql) in checks {
            let bad = try count(sql)
            #expect(bad == 0, "\(name): \(bad) rows differ from the simulator's truth", sourceLocation: sourceLocation)
        }
        #expect(try count("SELECT count(*) FROM audit.ledger_entries") == truth.ledger.count, sourceLocation: sourceLocation)
        #expect(try count("SELECT count(*) FROM audit.trades") == truth.trades.count, sourceLocation: sourceLocation)
    }
}
