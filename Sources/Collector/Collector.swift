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
    public func collect(
        accounts names: [String] = [], options: CollectOptions = CollectOptions(), command: String = "collect", parentRunId: Int64? = nil
    ) async -> [AccountOutcome] {
        markAbandonedRuns()
        let selected = names.isEmpty ? config.accounts : config.accounts.filter { names.contains($0.name) }
        let progress = showProgress ? ProgressLine(secondsPerPage: 2 / (selected.first?.rateLimit.decayPerSecond ?? 0.33)) : nil
        return await withTaskGroup(of: AccountOutcome.self) { group in
            for account in selected {
                group.addTask { await collect(account: account, options: options, command: command, progress: progress) }
            }
            var out: [AccountOutcome] = []
            for await o in group { out.append(o) }
            return out.sorted { $0.account < $1.account }
        }
    }

    func collect(account: AccountConfig, options: CollectOptions, command: String, progress: ProgressLine?) async -> AccountOutcome {
        var logger = self.logger
        logger[metadataKey: "account"] = .string(account.name)
        let url = config.database.url
        let gateDB: PGConnection
        let storeDB: PGConnection
        do {
            gateDB = try PGConnection(url: url, logger: logger)
            storeDB = try PGConnection(url: url, logger: logger)
        } catch {
            logger.error("database unavailable", metadata: ["error": "\(error)"])
            return AccountOutcome(account: account.name, runId: nil, error: .database(error), endpoints: [:])
        }
        defer {
            gateDB.close()
            storeDB.close()
        }
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
                let accountId = try AccountStore.ensure(on: db, name: account.name)
                return (accountId, try RunLog.start(on: db, command: command, accountId: accountId))
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
                limit: account.rateLimit, configLabel: TierLadder.configLabel(account), db: gateDB, runId: runInfo.runId,
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
        let runId = runInfo.runId
        _ = try? await storeDB.run { db in
            try RunLog.finish(on: db, id: runId, status: status, error: failure.map { "\($0)" }, stats: statsJSON)
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

    private func record(failure: CollectError, account: AccountConfig, db: PGConnection, logger: Logger, command: String) async
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
