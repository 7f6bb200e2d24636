import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// `kraken-audit collect`: collects every configured account (concurrently, one task per key) into
/// PostgreSQL. An account that fails is recorded as failed in `audit.collector_runs` while the others go on.
public struct Collector: Sendable {
    let config: AuditConfiguration
    let credentials: @Sendable (AccountConfig) throws -> KrakenCredentials
    let transport: any HTTPTransport
    let logger: Logger
    let showProgress: Bool

    public init(
        config: AuditConfiguration, credentials: @escaping @Sendable (AccountConfig) throws -> KrakenCredentials,
        transport: any HTTPTransport = URLSessionTransport(), showProgress: Bool = false, logger: Logger
    ) {
        self.config = config
        self.credentials = credentials
        self.transport = transport
        self.logger = logger
        self.showProgress = showProgress
    }

    /// Collects `accounts` (names; empty = all). `parentRunId` links per-account runs to a nightly `run`.
    ///
    /// Database use is bounded (issue 18): one pool of `[database] max_connections` connections shared by every
    /// account, plus the process's session (leases); at most `[ops] max_concurrent_accounts` accounts at once.
    /// Without `leasing`, an account another process is collecting is reported as
    /// ``CollectError/accountBusy(account:)``. With a night's `leasing` (`run`), accounts others hold or finished
    /// are left to them, and this process waits until the accounts still held by others are done, taking over
    /// those whose process died.
    public func collect(
        accounts names: [String] = [], options: CollectOptions = CollectOptions(), command: String = "collect", parentRunId: Int64? = nil,
        leasing given: (any AccountLeasing)? = nil, pool givenPool: PGPool? = nil
    ) async -> [AccountOutcome] {
        markAbandonedRuns()
        let selected = names.isEmpty ? config.accounts : config.accounts.filter { names.contains($0.name) }
        let leasing: any AccountLeasing
        if let given {
            leasing = given
        } else {
            do {
                leasing = SessionLeasing(session: try ProcessSession(url: config.database.url, logger: logger))
            } catch {
                logger.error("database unavailable", metadata: ["error": "\(error)"])
                return selected.map { AccountOutcome(account: $0.name, runId: nil, error: .database(error), endpoints: [:]) }
            }
        }
        defer { if given == nil { leasing.session.close() } }
        // A long-lived caller (`watch`) lends its pool; it must prepare connections with ``CollectStore/prepare(_:)``
        // (``Collector/preparePooledConnection(_:)``).
        let pool =
            givenPool
            ?? PGPool(url: config.database.url, size: config.database.maxConnections, logger: logger, prepare: Self.preparePooledConnection)
        defer { if givenPool == nil { pool.close() } }
        let progress = showProgress ? ProgressLine(secondsPerPage: 2 / (selected.first?.rateLimit.decayPerSecond ?? 0.33)) : nil
        let context = Shared(pool: pool, leasing: leasing, options: options, command: command, progress: progress)

        var (outcomes, busy) = await pass(selected.map { ($0, nil) }, context)
        if given == nil {
            outcomes += busy.map { AccountOutcome(account: $0.0.name, runId: nil, error: .accountBusy(account: $0.0.name), endpoints: [:]) }
        } else {
            // Stay until the accounts other runners hold are done (also when every account was held: a standby):
            // one of them may die, and its accounts are then ours (its session ended, so did its leases).
            while !busy.isEmpty, !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(1)) } catch { break }
                let (more, still) = await pass(busy, context)
                outcomes += more
                busy = still
            }
        }
        return outcomes.sorted { $0.account < $1.account }
    }

    /// Prepares a pooled connection for collecting (the staging tables); pass it as `prepare` of a pool lent to
    /// ``collect(accounts:options:command:parentRunId:leasing:pool:)``.
    @Sendable public static func preparePooledConnection(_ db: PGConnection) throws(PGError) {
        try CollectStore.prepare(db)
    }

    /// What every account of one `collect` call shares.
    struct Shared: Sendable {
        let pool: PGPool
        let leasing: any AccountLeasing
        let options: CollectOptions
        let command: String
        let progress: ProgressLine?
    }

    enum Attempt: Sendable {
        case collected(AccountOutcome)
        /// Another process holds it; its id, so the next attempt need not look it up again.
        case busy(AccountConfig, accountId: Int)
        case done
    }

    /// Tries every account once, at most `[ops] max_concurrent_accounts` at a time; returns what was collected and
    /// the accounts another process holds.
    func pass(_ accounts: [(AccountConfig, Int?)], _ shared: Shared) async -> ([AccountOutcome], [(AccountConfig, Int?)]) {
        let limit = max(1, config.ops.maxConcurrentAccounts)
        return await withTaskGroup(of: Attempt.self) { group in
            var pending = accounts.makeIterator()
            for _ in 0..<limit {
                guard let account = pending.next() else { break }
                group.addTask { await attempt(account, shared) }
            }
            var outcomes: [AccountOutcome] = []
            var busy: [(AccountConfig, Int?)] = []
            for await result in group {
                switch result {
                case .collected(let o): outcomes.append(o)
                case .busy(let a, let id): busy.append((a, id))
                case .done: break
                }
                if let account = pending.next(), !Task.isCancelled {
                    group.addTask { await attempt(account, shared) }
                }
            }
            return (outcomes, busy)
        }
    }

    func attempt(_ candidate: (AccountConfig, Int?), _ shared: Shared) async -> Attempt {
        let (account, knownId) = candidate
        let name = account.name
        let decision: LeaseDecision
        let accountId: Int
        do {
            if let knownId {
                accountId = knownId
            } else {
                accountId = try await shared.pool.run { db in try AccountStore.ensure(on: db, name: name) }
            }
            decision = try await shared.leasing.acquire(accountId: accountId, account: name)
        } catch {
            let pg = error as? PGError ?? PGError(kind: .query, message: "\(error)")
            logger.error("database unavailable", metadata: ["account": "\(name)", "error": "\(pg)"])
            return .collected(AccountOutcome(account: name, runId: nil, error: .database(pg), endpoints: [:]))
        }
        switch decision {
        case .busy: return .busy(account, accountId: accountId)
        case .done: return .done
        case .granted: break
        }
        let outcome = await collect(account: account, accountId: accountId, shared: shared)
        if case .cancelled? = outcome.error {
            await shared.leasing.abandon(accountId: accountId)
        } else {
            await shared.leasing.finish(accountId: accountId, outcome: outcome)
        }
        return .collected(outcome)
    }

    func collect(account: AccountConfig, accountId: Int, shared: Shared) async -> AccountOutcome {
        var logger = self.logger
        logger[metadataKey: "account"] = .string(account.name)
        let (options, command, progress, holder) = (shared.options, shared.command, shared.progress, shared.leasing.session.holder)
        let storeDB = shared.pool
        let creds: KrakenCredentials
        do {
            creds = try credentials(account)
        } catch {
            return await record(failure: .configuration("\(error)"), account: account, db: storeDB, logger: logger, command: command)
        }
        let runInfo: (accountId: Int, runId: Int64)
        do {
            runInfo = try await storeDB.run { db in
                // Registering refuses a key registered for another account, so the key's account is this one.
                try NonceStore.register(
                    on: db, account: account.name, keyName: account.name, fingerprint: creds.fingerprint, keyCreated: account.keyCreated)
                // The holder lets any runner tell later whether this run's process still lives (RunLog.markAbandoned).
                let stats = JSONValue.object([("holder", .number(String(holder)))])
                return (accountId, try RunLog.start(on: db, command: command, accountId: accountId, stats: stats))
            }
        } catch {
            let pg = error as? PGError ?? PGError(kind: .query, message: "\(error)")
            if pg.isTemporary {
                return AccountOutcome(account: account.name, runId: nil, error: .database(pg), endpoints: [:])
            }
            // E.g. the key is registered for another account: a configuration problem, recorded as such.
            return await record(failure: .configuration(pg.description), account: account, db: storeDB, logger: logger, command: command)
        }
        logger[metadataKey: "run"] = .string(String(runInfo.runId))
        let result: Result<[String: EndpointStats], CollectError>
        do {
            let paced = try PacedClient(
                account: account.name, accountId: runInfo.accountId, credentials: creds, apiURL: account.apiURL,
                limit: account.rateLimit, configLabel: TierLadder.configLabel(account), db: shared.pool,
                holder: shared.leasing.session.holder, runId: runInfo.runId,
                transport: transport,
                timeout: account.timeoutSeconds, retry: options.retry, maxResponseBytes: account.maxResponseBytes, logger: logger)
            let collector = AccountCollector(
                account: account, accountId: runInfo.accountId, paced: paced, store: storeDB, options: options,
                logger: logger, progress: progress)
            defer { paced.logPacingCorrection() }
            result = .success(try await collector.collectAll())
        } catch let e as CollectError {
            result = .failure(e)
        } catch {
            result = .failure(.configuration("\(error)"))
        }
        let stats = (try? result.get()) ?? [:]
        let failure = result.failure
        let statsJSON = JSONValue.object(
            stats.sorted { $0.key < $1.key }.map { name, s in
                (
                    name,
                    .object([
                        ("calls", .number(String(s.calls))), ("inserted", .number(String(s.rows.inserted))),
                        ("updated", .number(String(s.rows.updated))),
                        ("kraken_count", s.krakenCount.map { .number(String($0)) } ?? .null),
                        ("stored_count", s.storedCount.map { .number(String($0)) } ?? .null),
                        ("state", s.state.map(JSONValue.string) ?? .null),
                    ])
                )
            })
        let status: RunLog.Status
        switch failure {
        case nil: status = .success
        case .cancelled?: status = .interrupted
        default: status = .failed
        }
        let (runId, leasing) = (runInfo.runId, shared.leasing)
        _ = try? await storeDB.run { db in
            try db.transaction {
                try RunLog.finish(on: db, id: runId, status: status, error: failure.map { "\($0)" }, stats: statsJSON)
                if status != .interrupted {
                    try leasing.record(on: db, accountId: accountId, runId: runId, succeeded: failure == nil)
                }
            }
        }
        if let failure {
            logger.error("collection failed", metadata: ["error": "\(failure)", "temporary": "\(failure.isTemporary)"])
        } else {
            logger.info(
                "collection complete",
                metadata: [
                    "calls": "\(stats.values.reduce(0) { $0 + $1.calls })",
                    "inserted": "\(stats.values.reduce(0) { $0 + $1.rows.inserted })",
                ])
        }
        return AccountOutcome(account: account.name, runId: runId, error: failure, endpoints: stats)
    }

    /// Runs left `running` by a process of this host that no longer exists (killed) become `interrupted`.
    func markAbandonedRuns() {
        guard let db = try? PGConnection(url: config.database.url, logger: logger) else { return }
        defer { db.close() }
        _ = try? RunLog.markAbandoned(on: db)  // best effort: the collection itself says what is wrong with the database
    }

    private func record(failure: CollectError, account: AccountConfig, db: any PGRunner, logger: Logger, command: String) async
        -> AccountOutcome
    {
        logger.error("collection failed", metadata: ["error": "\(failure)"])
        let name = account.name
        let text = "\(failure)"
        let runId: Int64? = try? await db.run { db in
            let accountId = try AccountStore.ensure(on: db, name: name)
            return try RunLog.recordFailure(on: db, command: command, accountId: accountId, error: text)
        }
        return AccountOutcome(account: account.name, runId: runId, error: failure, endpoints: [:])
    }
}
