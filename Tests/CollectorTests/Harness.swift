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

/// CollectorTests' harness: ``SimulatedCollection`` (simulator + throw-away database + configuration, torn down
/// after the test's closure) with this suite's defaults and its truth comparison.
typealias Harness = SimulatedCollection

extension SimulatedCollection {
    /// Runs `body` with a simulator of `accounts` accounts (history of `days` days at `scale`, ending at the pinned
    /// 2026-11-01, counter `max`/`decay` also configured as each account's rate limit), torn down afterwards.
    static func with(
        accounts: Int = 1, scale: Int = 400, days: Int = 60, max: Double = 20, decay: Double = 200, seed: UInt64 = 7,
        configure: (inout SimulatorOptions) -> Void = { _ in }, _ body: (SimulatedCollection) async throws -> Void
    ) async throws {
        let setup = Setup(
            accounts: accounts, scale: scale, days: days, maxCounter: max, decayPerSecond: decay, seed: seed,
            databasePrefix: "collect", logLabel: "collector-test", configure: configure)
        try await withSimulatedCollection(setup, body)
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
            (
                "ledger",
                "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'ledger') t FULL JOIN (SELECT ledger_id, raw FROM audit.ledger_entries WHERE account_id = $1) l ON l.ledger_id = t.id WHERE l.raw IS DISTINCT FROM t.raw"
            ),
            (
                "trades",
                "SELECT count(*) FROM (SELECT id, raw - 'ledgers' AS raw FROM truth WHERE kind = 'trade') t FULL JOIN (SELECT txid, raw - 'ledgers' AS raw FROM audit.trades WHERE account_id = $1) l ON l.txid = t.id WHERE l.raw IS DISTINCT FROM t.raw"
            ),
            (
                "orders",
                "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'order') t FULL JOIN (SELECT txid, raw FROM audit.orders WHERE account_id = $1) l ON l.txid = t.id WHERE l.raw IS DISTINCT FROM t.raw"
            ),
            (
                "withdrawals",
                "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'withdrawal') t FULL JOIN (SELECT refid, raw FROM audit.withdrawals WHERE account_id = $1) l ON l.refid = t.id WHERE l.raw IS DISTINCT FROM t.raw"
            ),
            (
                "deposits",
                "SELECT count(*) FROM (SELECT id, raw FROM truth WHERE kind = 'deposit') t FULL JOIN (SELECT refid, raw FROM audit.deposits WHERE account_id = $1) l ON l.refid = t.id WHERE l.raw IS DISTINCT FROM t.raw"
            ),
            // Typed columns hold exactly the text Kraken sent (NUMERIC keeps the scale) and the exact time.
            (
                "ledger columns",
                "SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1 AND (amount::text <> raw->>'amount' OR fee::text <> raw->>'fee' OR balance::text <> raw->>'balance' OR abs(extract(epoch FROM time) - (raw->>'time')::numeric) > 0.000001 OR asset <> raw->>'asset' OR refid IS DISTINCT FROM raw->>'refid')"
            ),
            (
                "trade columns",
                "SELECT count(*) FROM audit.trades WHERE account_id = $1 AND (price::text <> raw->>'price' OR cost::text <> raw->>'cost' OR fee::text <> raw->>'fee' OR vol::text <> raw->>'vol' OR pair <> raw->>'pair' OR ordertxid <> raw->>'ordertxid')"
            ),
            (
                "order columns",
                "SELECT count(*) FROM audit.orders WHERE account_id = $1 AND (status <> raw->>'status' OR vol_exec::text <> raw->>'vol_exec' OR descr_pair <> raw->'descr'->>'pair')"
            ),
            (
                "withdrawal columns",
                "SELECT count(*) FROM audit.withdrawals WHERE account_id = $1 AND (amount::text <> raw->>'amount' OR info IS DISTINCT FROM raw->>'info' OR key IS DISTINCT FROM raw->>'key')"
            ),
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
