import Alerts
import Analyser
import AuditConfig
import AuditStore
import Collector
import Foundation
import KrakenAPI
import Logging

/// `kraken-audit watch` (issue 20): streams every selected account's ledger and fills over Kraken's WebSocket v2,
/// stores them at once (`source = 'ws'`), runs the rules that concern one new entity on arrival and delivers their
/// alerts through the outbox and hook. The nightly REST collection stays the source of truth (it confirms streamed
/// rows or records their differences); findings are deduplicated, so the nightly `run` does not alert again.
///
/// One process: one connection pool and one session (leases), one WebSocket connection per account.
public struct Watcher: Sendable {
    /// The rules about one new entity, run as entries arrive (the same SQL files as the nightly analysis).
    public static let arrivalRules = [
        "unexpected_withdrawal", "withdrawal_address_changed", "off_hours_trading", "trade_size_outlier", "new_pair_or_asset",
    ]

    let config: AuditConfiguration
    let credentials: @Sendable (AccountConfig) throws -> KrakenCredentials
    let catalogue: RuleCatalogue
    let delivery: AlertDelivery?
    let transport: any HTTPTransport
    let limits: StreamSession.Limits
    let logger: Logger

    /// - Parameters:
    ///   - delivery: the alert hook (nil when `[alerts]` is absent: findings are still stored).
    ///   - pingAfterSeconds / reconnectAfterSeconds: the watchdog (5 s and 10 s per issue 20).
    public init(
        config: AuditConfiguration, credentials: @escaping @Sendable (AccountConfig) throws -> KrakenCredentials, catalogue: RuleCatalogue,
        delivery: AlertDelivery?, transport: any HTTPTransport = URLSessionTransport(), pingAfterSeconds: Double = 5,
        reconnectAfterSeconds: Double = 10, logger: Logger
    ) {
        self.config = config
        self.credentials = credentials
        self.catalogue = catalogue
        self.delivery = delivery
        self.transport = transport
        self.limits = StreamSession.Limits(pingAfter: pingAfterSeconds, reconnectAfter: reconnectAfterSeconds)
        self.logger = logger
    }

    /// What every account's watcher shares.
    struct Shared: Sendable {
        let config: AuditConfiguration
        let credentials: @Sendable (AccountConfig) throws -> KrakenCredentials
        let pool: PGPool
        let session: ProcessSession
        let analyser: Analyser
        let rules: [String]
        let delivery: AlertDelivery?
        let transport: any HTTPTransport
        let budget: ConnectionBudget
        let limits: StreamSession.Limits
        let logger: Logger

        /// The arrival rules for `account`, then the alert outbox. The analyser runs one analysis at a time per
        /// database (the nightly one included): wait for it rather than skip, the alert is the point.
        func analyseAndAlert(account: String, logger: Logger) async {
            let (analyser, rules) = (self.analyser, self.rules)
            let deadline = ContinuousClock.now + .seconds(600)
            while !Task.isCancelled {
                do {
                    let summary = try await pool.run { db in try analyser.analyse(on: db, accounts: [account], rules: rules) }
                    logger.info(
                        "rules on arrival",
                        metadata: ["new": "\(summary.newFindings)", "alerts": "\(summary.alertsQueued)", "run": "\(summary.runId)"])
                    break
                } catch AnalyserError.alreadyRunning where ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(250))
                } catch {
                    logger.error("rules on arrival failed; the nightly analysis will run them", metadata: ["error": "\(error)"])
                    return
                }
            }
            guard let delivery else { return }
            for _ in 0..<40 where !Task.isCancelled {
                do {
                    let result = try await pool.run { db in try delivery.deliverPending(on: db) }
                    if !result.skippedLocked {
                        if result.calls > 0 {
                            logger.info("alerts delivered", metadata: ["delivered": "\(result.delivered)", "failed": "\(result.failed)"])
                        }
                        return
                    }
                } catch {
                    logger.error("alert delivery failed; pending alerts are retried", metadata: ["error": "\(error)"])
                    return
                }
                // Another delivery pass holds the outbox (the nightly run's): ours may have been fixed into it.
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Watches `accounts` (names; empty = every configured account) until the task is cancelled (SIGTERM/SIGINT).
    public func run(accounts names: [String] = []) async throws(WatchError) {
        let selected = names.isEmpty ? config.accounts : config.accounts.filter { names.contains($0.name) }
        guard !selected.isEmpty else { throw .configuration("no [[account]] to watch: add one to the configuration") }
        let analyser: Analyser
        do {
            analyser = try Analyser(config: config, catalogue: catalogue, logger: logger)
        } catch {
            throw .configuration("\(error)")
        }
        let rules = Self.arrivalRules.filter { id in analyser.settings.contains { $0.rule.id == id && $0.enabled } }
        let session: ProcessSession
        do { session = try ProcessSession(url: config.database.url, logger: logger) } catch { throw .database(error.description) }
        defer { session.close() }
        let pool = PGPool(
            url: config.database.url, size: config.database.maxConnections, logger: logger, prepare: Collector.preparePooledConnection)
        defer { pool.close() }
        try? await WatchConnectionLog.closeAbandoned(pool)
        let shared = Shared(
            config: config, credentials: credentials, pool: pool, session: session, analyser: analyser, rules: rules, delivery: delivery,
            transport: transport, budget: ConnectionBudget(), limits: limits, logger: logger)
        logger.notice(
            "watching",
            metadata: ["accounts": "\(selected.map(\.name).joined(separator: ","))", "rules": "\(rules.joined(separator: ","))"])
        await withTaskGroup(of: Void.self) { group in
            for account in selected {
                group.addTask { await AccountWatcher(account: account, shared: shared).run() }
            }
        }
        logger.notice("watch stopped")
    }
}
