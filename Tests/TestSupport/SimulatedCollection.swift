import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging

/// A Kraken simulator, a throw-away migrated database and a configuration whose accounts are the simulator's, for
/// the scope of one closure: the test harness of every test that collects.
///
///     @Test func rerunAddsNothing() async throws {
///         try await withSimulatedCollection(.init(scale: 600)) { h in
///             #expect(await h.collect().allSatisfy(\.succeeded))
///             #expect(try h.count("SELECT count(*) FROM audit.ledger_entries") > 0)
///         }
///     }
///
/// The simulator is stopped, the connection closed and the export directory removed **after the closure, and
/// awaited**, also when the closure throws (as hummingbird's `app.test(.live) { client in }` scopes its server);
/// the database is dropped when the last reference to ``database`` goes. A test that needs something only one
/// suite uses (a truth comparison, export options) adds it in an extension in its own target.
public struct SimulatedCollection: Sendable {
    /// What to start. The defaults are small and fast: one account, a 60-day history ending 2026-11-01 (pinned, so
    /// runs are reproducible), a fast rate limit, no injected anomalies.
    public struct Setup: Sendable {
        /// The simulator's options (accounts, history, faults, export behaviour, ...).
        public var simulator: SimulatorOptions
        /// Each account's `rate_limit` in the configuration; by default the simulator's own (`maxCounter`, `decayPerSecond`).
        public var rateLimit: (max: Double, decay: Double)
        /// Extra TOML lines of every account's table (e.g. `backfill = "export"`).
        public var accountLines: [String]
        /// The database name's prefix (`ka_<prefix>_<random>`), to tell suites apart in the cluster.
        public var databasePrefix: String
        /// The logger's label; its level is `warning` (test output stays readable).
        public var logLabel: String
        /// The end of the simulated history (Unix seconds).
        public var historyEnd: Int64

        /// 2026-11-01T00:00:00Z.
        public static let pinnedEnd: Int64 = 1_793_491_200

        public init(
            accounts: Int = 1, scale: Int = 400, days: Int = 60, maxCounter: Double = 20, decayPerSecond: Double = 200,
            seed: UInt64 = 7, endSeconds: Int64 = Setup.pinnedEnd, rateLimit: (max: Double, decay: Double)? = nil,
            accountLines: [String] = [], databasePrefix: String = "collect", logLabel: String = "collector-test",
            configure: (inout SimulatorOptions) -> Void = { _ in }
        ) {
            var o = SimulatorOptions()
            o.endSeconds = endSeconds
            o.days = days
            o.scale = scale
            o.accounts = accounts
            o.seed = seed
            o.injections = []
            o.maxCounter = maxCounter
            o.decayPerSecond = decayPerSecond
            configure(&o)
            simulator = o
            historyEnd = o.endSeconds ?? endSeconds
            self.rateLimit = rateLimit ?? (maxCounter, decayPerSecond)
            self.accountLines = accountLines
            self.databasePrefix = databasePrefix
            self.logLabel = logLabel
        }
    }

    /// The running simulator (its ``SimulatorServer/state`` moves the clock, adds activity, gives the truth).
    public let sim: SimulatorServer
    /// The throw-away database (dropped when released).
    public let database: TestDatabase
    /// A connection to ``database``, migrated.
    public let db: PGConnection
    /// The configuration: ``database`` and one account per simulated account, pointing at ``sim``.
    public let config: AuditConfiguration
    public let logger: Logger
    /// What was started.
    public let setup: Setup
    /// A fresh directory for export downloads (not created; removed at teardown).
    public let exportDirectory: URL

    /// Retries quickly (the simulator's transient faults need no real backoff).
    public static let fastRetry = RetryPolicy(maxAttempts: 6, baseDelay: 0.01, maxDelay: 0.05)

    /// Starts everything; prefer ``withSimulatedCollection(_:_:)``, which also tears it down.
    static func start(_ setup: Setup) async throws -> SimulatedCollection {
        var logger = Logger(label: setup.logLabel)
        logger.logLevel = .warning
        let sim = try await SimulatorServer.start(setup.simulator, logger: logger)
        do {
            let database = try TestDatabase(setup.databasePrefix)
            let db = try database.migrated()
            let limit = setup.rateLimit
            var toml = ConfigText.database(database.url)
            for a in sim.accounts {
                toml += ConfigText.account(
                    name: a.name, keyEnv: "UNUSED_KEY", secretEnv: "UNUSED_SECRET", apiURL: sim.baseURL.absoluteString,
                    rateLimit: limit, timeoutSeconds: 5, extra: setup.accountLines)
            }
            let config = try ConfigLoader.parse(toml, path: "test.toml")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-export-\(UUID().uuidString)")
            return SimulatedCollection(
                sim: sim, database: database, db: db, config: config, logger: logger, setup: setup, exportDirectory: dir)
        } catch {
            await sim.stop()
            throw error
        }
    }

    /// Stops the simulator, closes ``db``, removes ``exportDirectory``.
    func stop() async {
        await sim.stop()
        db.close()
        try? FileManager.default.removeItem(at: exportDirectory)
    }

    /// The same simulator, database and connection with `config` instead of ``config`` (e.g. a configuration an
    /// operator wrote for the simulated accounts): ``collector(transport:)`` and ``collect(_:options:transport:)``
    /// then use it. The teardown stays with the ``withSimulatedCollection(_:_:)`` that started this one.
    public func reconfigured(_ config: AuditConfiguration) -> SimulatedCollection {
        SimulatedCollection(
            sim: sim, database: database, db: db, config: config, logger: logger, setup: setup, exportDirectory: exportDirectory)
    }

    /// A collector for the configured accounts, with the simulator's credentials.
    public func collector(transport: any HTTPTransport = URLSessionTransport()) -> Collector {
        let accounts = sim.accounts
        return Collector(
            config: config,
            credentials: { account in
                guard let a = accounts.first(where: { $0.name == account.name }) else {
                    throw CollectError.configuration("no such simulated account")
                }
                return KrakenCredentials(apiKey: a.apiKey, secret: Secret(a.secret))
            },
            transport: transport, logger: logger)
    }

    /// Collects `accounts` (names; empty = all), retrying quickly by default.
    public func collect(
        _ accounts: [String] = [], options: CollectOptions = CollectOptions(retry: SimulatedCollection.fastRetry),
        transport: any HTTPTransport = URLSessionTransport()
    ) async -> [AccountOutcome] {
        await collector(transport: transport).collect(accounts: accounts, options: options)
    }

    /// Moves the simulator's wall clock forward, as time passes between nightly runs.
    public func advanceClock(_ seconds: Double) async {
        let current = await sim.state.clockOffsetSeconds
        await sim.state.setClockOffset(current + seconds)
    }

    /// The stored id of account `name`.
    public func accountId(_ name: String) throws -> Int {
        try db.query("SELECT id FROM audit.accounts WHERE name = $1", [name]).rows[0].decode(0, as: Int.self)
    }

    /// The first column of the first row of `sql`, as an integer (`SELECT count(*) ...`).
    public func count(_ sql: String, _ binds: [(any PGEncodable)?] = []) throws -> Int {
        try db.query(sql, binds).rows[0].decode(0, as: Int.self)
    }
}

/// Runs `body` with a started ``SimulatedCollection`` and tears it down afterwards, awaited, whether `body` returns
/// or throws. See ``SimulatedCollection`` for what is started and an example.
public func withSimulatedCollection<T>(
    _ setup: SimulatedCollection.Setup = .init(), _ body: (SimulatedCollection) async throws -> T
) async throws -> T {
    let h = try await SimulatedCollection.start(setup)
    do {
        let result = try await body(h)
        await h.stop()
        return result
    } catch {
        await h.stop()
        throw error
    }
}
