import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import HummingbirdWSClient
import KrakenAPI
import Logging

/// One account's stream, for as long as `watch` runs: a fresh token per connection (REST `GetWebSocketsToken`
/// through the paced, logged, nonce-safe client), the connection (``StreamSession``), its REST gap fill, and
/// reconnects with jittered backoff inside Kraken's connection-attempt limit.
struct AccountWatcher: Sendable {
    let account: AccountConfig
    let shared: Watcher.Shared
    let logger: Logger

    init(account: AccountConfig, shared: Watcher.Shared) {
        self.account = account
        self.shared = shared
        var logger = shared.logger
        logger[metadataKey: "account"] = .string(account.name)
        self.logger = logger
    }

    /// Runs until the task is cancelled.
    func run() async {
        var backoff = Backoff()
        var prepared: (accountId: Int, paced: PacedClient, rows: StreamRows)? = nil
        let collections = SerialQueue()
        var arrivals: ArrivalAnalyser? = nil
        while !Task.isCancelled {
            var healthy = false
            var maintenance = false
            var failure: WatchError? = nil
            do {
                let p: (accountId: Int, paced: PacedClient, rows: StreamRows)
                if let prepared { p = prepared } else { p = try await prepare() }
                prepared = p
                let analyser: ArrivalAnalyser
                if let arrivals {
                    analyser = arrivals
                } else {
                    let accountId = p.accountId
                    analyser = ArrivalAnalyser(groupSeconds: shared.config.watch.groupSeconds) { withdrawal in
                        await self.analyse(accountId: accountId, withdrawal: withdrawal, collections: collections)
                    }
                    arrivals = analyser
                }
                try await shared.budget.acquire()
                let outcome = await connect(
                    accountId: p.accountId, paced: p.paced, rows: p.rows, arrivals: analyser, collections: collections)
                healthy = outcome.subscribedSeconds >= backoff.healthySeconds
                maintenance = (outcome.systemStatus ?? "online") != "online"
                failure = outcome.error
            } catch is CancellationError {
                break
            } catch let e as WatchError {
                failure = e
            } catch {
                failure = .database("\(error)")
            }
            if Task.isCancelled { break }
            var delay = backoff.next(healthy: healthy, maintenance: maintenance)
            if let failure {
                if failure.needsOperator { delay = max(delay, 60) }
                logger.log(
                    level: failure.needsOperator ? .error : .warning, "stream ended; reconnecting",
                    metadata: ["reason": "\(failure)", "delay_seconds": "\(String(format: "%.1f", delay))"])
            }
            do { try await Task.sleep(for: .milliseconds(Int64(delay * 1000))) } catch { break }
        }
        await arrivals?.stop()
    }

    /// The account's id (its key registered for it), its paced client and Kraken's asset and pair names.
    private func prepare() async throws -> (accountId: Int, paced: PacedClient, rows: StreamRows) {
        let creds: KrakenCredentials
        do { creds = try shared.credentials(account) } catch { throw WatchError.configuration("\(error)") }
        let (name, keyCreated, fingerprint) = (account.name, account.keyCreated, creds.fingerprint)
        let accountId = try await shared.pool.run { db in
            try NonceStore.register(on: db, account: name, keyName: name, fingerprint: fingerprint, keyCreated: keyCreated)
        }
        let paced = try PacedClient(
            account: account.name, accountId: accountId, credentials: creds, apiURL: account.apiURL, limit: account.rateLimit,
            db: shared.pool, holder: shared.session.holder, runId: nil, transport: shared.transport, timeout: account.timeoutSeconds,
            retry: RetryPolicy(), maxResponseBytes: account.maxResponseBytes, logger: logger)
        let names: KrakenNames
        do { names = try await KrakenNames.load(paced) } catch { throw WatchError.token(error) }
        return (accountId, paced, StreamRows(names: names))
    }

    struct ConnectionOutcome {
        var subscribedSeconds: Double = 0
        var systemStatus: String? = nil
        var error: WatchError? = nil
    }

    /// One connection, from its token to its end; recorded in `audit.watch_connections`.
    private func connect(
        accountId: Int, paced: PacedClient, rows: StreamRows, arrivals: ArrivalAnalyser, collections: SerialQueue
    ) async -> ConnectionOutcome {
        var outcome = ConnectionOutcome()
        let token: String
        do {
            let result = try await paced.call("GetWebSocketsToken").result
            guard let t = result["token"]?.stringValue, !t.isEmpty else {
                outcome.error = .malformed(reason: "GetWebSocketsToken answered without a token")
                return outcome
            }
            token = t
        } catch {
            outcome.error = .token(error)
            return outcome
        }
        let connectionId: Int64
        do {
            connectionId = try await WatchConnectionLog.open(shared.pool, accountId: accountId, holder: shared.session.holder)
        } catch {
            outcome.error = .database("\(error)")
            return outcome
        }
        var connectionLogger = logger
        connectionLogger[metadataKey: "connection"] = .string(String(connectionId))
        let session = StreamSession(
            accountId: accountId, connectionId: connectionId, rows: rows, db: shared.pool, limits: shared.limits, logger: connectionLogger,
            arrived: { withdrawal in await arrivals.arrived(withdrawal: withdrawal) },
            holdingArrivals: { store in try await arrivals.holding(upTo: 2, store) },
            fillGap: { id in await collections.run { await self.fillGap(connectionId: id, arrivals: arrivals) } })
        var wsLogger = connectionLogger
        wsLogger.logLevel = max(connectionLogger.logLevel, .notice)  // the client library's own chatter
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 24, autoPing: .disabled)
        var reason = "closed by Kraken"
        do {
            let url = account.webSocketURL
            _ = try await WebSocketClient.connect(url: url, configuration: configuration, logger: wsLogger) { inbound, outbound, _ in
                try await session.serve(inbound: inbound, outbound: outbound, token: token)
            }
            outcome.error = .closedByKraken(code: nil)
        } catch is CancellationError {
            reason = "stopped"
        } catch let e as WatchError {
            reason = e.description
            outcome.error = e
        } catch {
            if Task.isCancelled {
                reason = "stopped"
            } else {
                reason = "\(error)"
                outcome.error = .connection("\(error)")
            }
        }
        outcome.subscribedSeconds = session.subscribedSeconds
        let counters = session.counters.withLockedValue { $0 }
        outcome.systemStatus = counters.systemStatus
        // Recorded even when stopping (the pool outlives the accounts' tasks).
        let pool = shared.pool
        await Task {
            try? await WatchConnectionLog.update(pool, id: connectionId, counters: counters, closeReason: reason)
        }.value
        return outcome
    }

    /// The REST gap fill (ledger and trade history from the stored high-water mark; ../shared/kraken-websocket.md §5
    /// "Gap-free resume? No."). While another process collects the account (the nightly `run`), it waits and tries
    /// again: that collection may have started before the stream broke.
    private func fillGap(connectionId: Int64, arrivals: ArrivalAnalyser) async {
        var options = CollectOptions()
        options.scope = .streamGap
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            let outcome = await collect(options)
            if let outcome, outcome.error == nil {
                if let runId = outcome.runId { try? await WatchConnectionLog.gapFilled(shared.pool, id: connectionId, runId: runId) }
                let inserted = outcome.endpoints.values.reduce(0) { $0 + $1.rows.inserted }
                logger.info("gap filled from REST", metadata: ["inserted": "\(inserted)", "run": "\(outcome.runId ?? 0)"])
                if inserted > 0 { await arrivals.arrived(withdrawal: true) }
                return
            }
            let busy: Bool
            if case .accountBusy? = outcome?.error { busy = true } else { busy = false }
            if let e = outcome?.error, !busy, !e.isTemporary {
                logger.error("gap fill failed; the nightly run will collect what the stream missed", metadata: ["error": "\(e)"])
                return
            }
            let delay = busy ? 5.0 : min(60, Double(attempt) * 5)
            do { try await Task.sleep(for: .seconds(delay)) } catch { return }
        }
    }

    /// One narrow collection of this account through the Collector (leases, paced client, call log).
    private func collect(_ options: CollectOptions) async -> AccountOutcome? {
        let collector = Collector(config: shared.config, credentials: shared.credentials, transport: shared.transport, logger: logger)
        return await collector.collect(
            accounts: [account.name], options: options, command: "watch", leasing: SessionLeasing(session: shared.session),
            pool: shared.pool
        ).first
    }

    /// Rules on arrival, then alerts: the destination of a new withdrawal first (one paced `WithdrawStatus`), then
    /// the arrival rules for this account, then the outbox through the hook.
    private func analyse(accountId: Int, withdrawal: Bool, collections: SerialQueue) async {
        if withdrawal {
            var o = CollectOptions()
            o.scope = .withdrawalStatus
            let options = o
            await collections.run {
                if let e = await collect(options)?.error {
                    logger.warning(
                        "WithdrawStatus after a streamed withdrawal failed; rules judge it without its destination",
                        metadata: ["error": "\(e)"])
                }
            }
        }
        await shared.analyseAndAlert(account: account.name, logger: logger)
    }
}
