import Analyser
import AuditConfig
import AuditKernel
import AuditStore
import ChildProcesses
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import Operations
import TestSupport
import Testing

/// The demo the analyst-interface tests query, built once per test process: a simulated two-account Kraken
/// history (120 days ending at ``end``, planted anomalies on) collected by the real collector with injected
/// transient errors (two HTTP 520 on Ledgers, one EService:Unavailable on TradesHistory) (so the call log has errors), analysed by the real rules (so findings exist), plus two login
/// roles holding `kraken_audit_reader` and `kraken_audit_writer`.
///
/// After the analysis the ledger entries of a lost trade and one trade without ledger entries are added, so the
/// reconciliation query has exactly these to find (``removedTradeId``, ``orphanTradeId``).
final class AnalystDemo: Sendable {
    /// History end: 2026-11-01T00:00:00Z.
    static let end: Int64 = 1_793_491_200
    static let days = 120
    static let removedTradeId = "TLOST0-DEMO0-ANALYS"
    static let orphanTradeId = "TORPHAN-TEST-000001"

    let database: TestDatabase
    let reader: Login
    let writer: Login
    let removedTradeId: String
    let accounts: [String]

    /// A LOGIN role of the throw-away cluster.
    struct Login: Sendable {
        let user: String
        let password: String
        let database: String

        var url: String { "dbname=\(database) user=\(user) password=\(password)" }
        func connect() throws -> PGConnection { try PGConnection(url: url, logger: TestDatabase.logger) }
    }

    /// The shared instance (built on first use; every test awaits the same build).
    static let shared = Task<AnalystDemo, any Error> { try await AnalystDemo.build() }

    private init(database: TestDatabase, reader: Login, writer: Login, removedTradeId: String, accounts: [String]) {
        self.database = database
        self.reader = reader
        self.writer = writer
        self.removedTradeId = removedTradeId
        self.accounts = accounts
    }

    /// Opens a superuser connection to the demo database.
    func admin() throws -> PGConnection { try database.connect() }

    private static func build() async throws -> AnalystDemo {
        let setup = SimulatedCollection.Setup(
            accounts: 2, scale: 800, days: days, maxCounter: 20, decayPerSecond: 200, seed: 11, endSeconds: end,
            databasePrefix: "analyst", logLabel: "analyst-demo")
        // The simulator lives only while the history is collected; the database outlives it (returned).
        let (database, config, simAccounts, logger) = try await withSimulatedCollection(setup) { h in
            await h.sim.state.addFault(FaultRule(kind: .http520, count: 2, methods: ["Ledgers"]))
            await h.sim.state.addFault(FaultRule(kind: .serviceUnavailable, count: 1, methods: ["TradesHistory"]))
            var toml = "[database]\nurl = \"\(h.database.url)\"\n\n[ops]\ntimezone = \"Europe/Berlin\"\n\n"
            for a in h.sim.accounts {
                toml += """
                    [[account]]
                    name = "\(a.name)"
                    api_key_env = "UNUSED_KEY"
                    api_secret_env = "UNUSED_SECRET"
                    api_url = "\(h.sim.baseURL.absoluteString)"
                    timezone = "Europe/Berlin"
                    rate_limit = { max = 20, decay_per_second = 200 }
                    timeout_seconds = 5

                    """
            }
            let config = try ConfigLoader.parse(toml, path: "analyst-demo.toml")
            let outcomes = await h.reconfigured(config).collect()
            for outcome in outcomes where !outcome.succeeded {
                throw DemoError(description: "collecting \(outcome.account) failed: \(String(describing: outcome.error))")
            }
            return (h.database, config, h.sim.accounts, h.logger)
        }
        let db = try database.connect()
        defer { db.close() }
        let catalogue = try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules"))
        let summary = try Analyser(config: config, catalogue: catalogue, logger: logger, options: AnalyserOptions(alerts: nil))
            .analyse(on: db)
        if let failed = summary.failures.first {
            throw DemoError(description: "rule \(failed.ruleId) failed: \(failed.failure ?? "")")
        }

        // Reconciliation fixtures: ledger entries of a trade whose row was lost, and a trade without ledger entries.
        // (Stored rows are never removed, migration 0012: the lost trade's two legs are added as entries of a trade
        // id that was never stored, copies of a real trade's legs with amount 0, so every balance stays as it was.)
        let removed = Self.removedTradeId
        let legs = try db.query(
            """
            INSERT INTO audit.ledger_entries (account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee,
                                              balance, raw)
            SELECT account_id, 'LLOST' || row_number() OVER (ORDER BY ledger_id), $1, time, type, subtype, aclass, asset, 0, 0,
                   balance, raw || jsonb_build_object('refid', $1::text, 'amount', '0', 'fee', '0')
              FROM audit.ledger_entries
             WHERE type = 'trade'
               AND refid = (SELECT txid FROM audit.trades ORDER BY time, txid LIMIT 1 OFFSET 10)
            RETURNING ledger_id
            """, [removed]
        ).rows.count
        guard legs == 2 else { throw DemoError(description: "expected the 11th trade to have 2 ledger legs, found \(legs)") }
        try db.execute(
            """
            INSERT INTO audit.trades (account_id, txid, ordertxid, pair, time, type, ordertype, price, cost, fee, vol, raw)
            SELECT account_id, $1, ordertxid, pair, time + interval '1 second', type, ordertype, price, cost, fee, vol, raw
              FROM audit.trades ORDER BY time DESC, txid LIMIT 1
            """, [orphanTradeId])

        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let reader = Login(user: "ka_reader_\(suffix)", password: "pw\(UUID().uuidString.prefix(8))", database: database.name)
        let writer = Login(user: "ka_writer_\(suffix)", password: "pw\(UUID().uuidString.prefix(8))", database: database.name)
        for (login, role) in [(reader, AuditRole.reader), (writer, AuditRole.writer)] {
            let create = try db.query(
                "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", [login.user, login.password]
            ).rows[0].decode(0, as: String.self)
            try db.execute(create)
            _ = try RoleGrant.grant(role, to: login.user, on: db)
        }
        return AnalystDemo(
            database: database, reader: reader, writer: writer, removedTradeId: removed, accounts: simAccounts.map(\.name))
    }

    struct DemoError: Error, CustomStringConvertible {
        let description: String
    }
}

/// Runs a SQL file with `psql` (as analysts do) and returns its rows as arrays of fields.
enum PSQL {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `psql -X -v ON_ERROR_STOP=1 -v name=value ... -f file`, connected as `login`.
    static func run(file: String, variables: [String: String], as login: AnalystDemo.Login) throws -> [[String]] {
        var arguments = ["psql", "-X", "-q", "-t", "-A", "-F", "\u{1F}", "-R", "\u{1E}", "-v", "ON_ERROR_STOP=1"]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-v", "\(name)=\(value)"] }
        arguments += ["-f", file]
        var environment = ProcessInfo.processInfo.environment
        environment["PGUSER"] = login.user
        environment["PGPASSWORD"] = login.password
        environment["PGDATABASE"] = login.database
        environment["PGOPTIONS"] = "-c TimeZone=UTC"
        // psql talks only to the external cluster: a blocking, bounded wait is fine here.
        let process = try ChildProcess.start(
            "/usr/bin/env", arguments: arguments, environment: environment, stdout: .capture(limit: 64 << 20),
            stderr: .capture(limit: 1 << 20))
        let termination = process.waitOrKill(timeout: 120)
        process.waitForOutput(timeout: 10)
        let stdout = process.stdout
        let errorText = process.stderrText
        guard termination == .exited(0), errorText.isEmpty else {
            throw Failure(description: "psql -f \(file) \(termination.map { "\($0)" } ?? "timed out after 120 s"): \(errorText)")
        }
        return String(decoding: stdout, as: UTF8.self)
            .split(separator: "\u{1E}", omittingEmptySubsequences: true)
            .map { String($0).trimmingCharacters(in: .newlines) }
            .filter { !$0.isEmpty }
            .map { $0.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) }
    }
}
