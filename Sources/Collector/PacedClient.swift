import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// Sends one account's private calls: paced so Kraken's counter never exceeds its max, serialised per key
/// across processes, logged in `audit.api_calls`, retried per the error taxonomy (§6).
///
/// Budget, nonce and the key's call lease are taken in one atomic step in the database (`audit.take_call`); the
/// lease is returned when the response arrives (`audit.end_call`), so calls of one key never overtake each other,
/// even from two processes, and a new process starts from the counter the last one left. The lease is a row, not
/// a lock held by a connection, so a call in flight pins no database connection (issue 18: a thousand accounts
/// share a small pool); a lease whose process died is taken over at once, one whose process stalls lapses after
/// the HTTP timeout plus ``leaseMarginSeconds`` (migration 0013 says how).
public final class PacedClient: Sendable {
    public let account: String
    public let accountId: Int
    public let fingerprint: String
    let client: KrakenClient
    let db: any PGRunner
    /// This process in call leases (``ProcessSession/holder``), and this client's own token.
    let holder: Int64
    let token = UUID().uuidString
    /// How long a call lease lasts when its holder never returns it: the request timeout plus a margin.
    let leaseSeconds: Double
    static let leaseMarginSeconds = 10.0
    /// The configured limit; the one paced by is ``pacing``'s (lower once Kraken said so).
    let limit: RateLimit
    /// How the config names ``limit`` ("pro", "rate_limit max 30, decay 2/s"), for logs, reports and doctor.
    let configLabel: String
    let pacing: PacingState
    let retry: RetryPolicy
    let runId: Int64?
    let recorder = LastCallRecorder()
    let logger: Logger
    /// Seconds of latency jitter tolerated: the counter is kept this far below max (see README).
    let jitterMargin: Double

    /// Lockout Kraken applies after repeated failures (about 15 minutes).
    static let lockoutSeconds = 15.0 * 60

    public init(
        account: String, accountId: Int, credentials: KrakenCredentials, apiURL: String, limit: RateLimit,
        configLabel: String? = nil, db: any PGRunner, holder: Int64, runId: Int64?, transport: any HTTPTransport, timeout: Double,
        retry: RetryPolicy, jitterMargin: Double = 0.25, maxResponseBytes: Int = KrakenClient.defaultMaxResponseBytes,
        logger: Logger
    ) throws {
        self.configLabel =
            configLabel ?? "rate_limit max \(TierLadder.number(limit.max)), decay \(TierLadder.number(limit.decayPerSecond))/s"
        self.pacing = PacingState(configured: limit)
        self.account = account
        self.accountId = accountId
        self.fingerprint = credentials.fingerprint
        self.db = db
        self.holder = holder
        self.leaseSeconds = timeout + Self.leaseMarginSeconds
        self.limit = limit
        self.retry = retry
        self.runId = runId
        self.logger = logger
        self.jitterMargin = jitterMargin
        self.client = try KrakenClient(
            baseURL: apiURL, credentials: credentials, nonces: NoNonces(), transport: transport, observer: recorder,
            timeout: timeout, maxResponseBytes: maxResponseBytes, logger: logger)
    }

    /// Calls Kraken's public `Time` (no counter cost), retrying transient failures.
    public func serverTime() async throws(CollectError) -> Int64 {
        var attempt = 0
        while true {
            attempt += 1
            do throws(KrakenError) {
                let r = try await client.publicCall("Time")
                guard let t = r.result["unixtime"]?.numberText.flatMap({ Int64($0) }) else {
                    throw KrakenError.malformedResponse(method: "Time", reason: "no integer unixtime")
                }
                return t
            } catch {
                guard Self.isRetryable(error), attempt < retry.maxAttempts else { throw .kraken(error, attempts: attempt) }
                try await sleep(seconds: retry.delay(attempt: attempt))
            }
        }
    }

    /// Transient errors, plus unparseable bodies: a JSON document cut short is a transport symptom, so it is
    /// retried too (a body that stays malformed fails after the last attempt).
    static func isRetryable(_ error: KrakenError) -> Bool {
        if case .malformedResponse = error { return true }
        return error.isTransient
    }

    /// Calls a private method with retries; returns the response.
    public func call(_ method: String, _ parameters: [(String, String)] = []) async throws(CollectError) -> KrakenResponse {
        switch try await call(method, parameters, binaryAllowed: false) {
        case .json(let r): return r
        case .binary: throw .malformed(endpoint: method, reason: "a binary body where JSON was expected")
        }
    }

    /// Calls a public method (no counter cost, no nonce) with retries, e.g. `Assets` for asset-name normalisation.
    public func publicCall(_ method: String, _ query: [(String, String)] = []) async throws(CollectError) -> KrakenResponse {
        var attempt = 0
        while true {
            attempt += 1
            do throws(KrakenError) {
                return try await client.publicCall(method, query: query)
            } catch {
                guard Self.isRetryable(error), attempt < retry.maxAttempts else { throw .kraken(error, attempts: attempt) }
                try await sleep(seconds: retry.delay(attempt: attempt))
            }
        }
    }

    /// Calls a private method that may answer with a file (`RetrieveExport`): paced, logged and retried like
    /// ``call(_:_:)``.
    public func call(_ method: String, _ parameters: [(String, String)], binaryAllowed: Bool) async throws(CollectError) -> KrakenPayload {
        let cost = CallCost.of(method)
        var attempt = 0
        var nonceRetried = false
        while true {
            attempt += 1
            let nonce = try await acquire(cost: cost)
            let result: Result<KrakenPayload, KrakenError>
            do {
                result = .success(try await client.privateCall(method, parameters: parameters, nonce: nonce, binaryAllowed: binaryAllowed))
            } catch {
                result = .failure(error)
            }
            let record = recorder.take()
            try await release(record: record, error: result.failure, retry: attempt - 1)
            switch result {
            case .success(let response):
                return response
            case .failure(let error):
                if Task.isCancelled { throw .cancelled }
                switch error.kind {
                case .temporaryLockout:
                    try await markLockout()
                    throw .lockedOut(fingerprint: fingerprint, secondsLeft: Self.lockoutSeconds)
                case .rateLimited:
                    // Despite pacing: the key's real counter is smaller or slower than assumed. Step the assumed
                    // limit down and wait, in acquire, until the counter has decayed enough for this call; the
                    // retry takes a fresh nonce and counts as an attempt.
                    try await rateLimited(method: method, cost: cost, error: error)
                    if attempt >= retry.maxAttempts { throw .kraken(error, attempts: attempt) }
                    continue
                case .invalidNonce:
                    if nonceRetried { throw .kraken(error, attempts: attempt) }
                    nonceRetried = true
                    continue
                case .throttled:
                    if attempt >= retry.maxAttempts { throw .kraken(error, attempts: attempt) }
                    let until = error.throttledUntil ?? Date().addingTimeInterval(retry.delay(attempt: attempt))
                    try await sleep(seconds: min(retry.maxDelay, max(0.05, until.timeIntervalSinceNow)))
                    continue
                default:
                    guard Self.isRetryable(error), attempt < retry.maxAttempts else { throw .kraken(error, attempts: attempt) }
                    let delay = retry.delay(attempt: attempt)
                    logger.info(
                        "transient Kraken failure; retrying",
                        metadata: ["method": "\(method)", "error": "\(error.kindName)", "attempt": "\(attempt)", "delay_s": "\(delay)"])
                    try await sleep(seconds: delay)
                }
            }
        }
    }

    private func sleep(seconds: Double) async throws(CollectError) {
        do {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        } catch {
            throw .cancelled
        }
    }

    @discardableResult
    private func dbRun<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws(CollectError) -> T {
        do {
            return try await db.run(body)
        } catch let e as PGError {
            throw .database(e)
        } catch {
            throw .database(PGError(kind: .query, message: "\(error)"))
        }
    }

    /// Waits for budget and the key's call lease and takes a nonce; on return the lease is held until ``release``.
    private func acquire(cost: Double) async throws(CollectError) -> UInt64 {
        while true {
            if Task.isCancelled { throw .cancelled }
            // Read each time: a rate-limit error on an earlier attempt may have lowered it.
            let limit = try await currentLimit()
            let max = Self.pacedMax(limit, jitterMargin: jitterMargin)
            let (fingerprint, decay, holder, token, lease) = (self.fingerprint, limit.decayPerSecond, holder, token, leaseSeconds)
            let (nonce, wait, locked): (Int64?, Double, Bool) = try await dbRun { db in
                let r = try db.query(
                    "SELECT nonce, wait_seconds, locked FROM audit.take_call($1, $2, $3, $4, $5, $6, $7::uuid, $8)",
                    [fingerprint, cost, max, decay, NonceStore.nowMillis(), holder, token, lease]
                ).rows[0]
                return (try r.decodeOptional(0, as: Int64.self), try r.decode(1, as: Double.self), try r.decode(2, as: Bool.self))
            }
            if let nonce { return UInt64(nonce) }
            if locked { throw .lockedOut(fingerprint: fingerprint, secondsLeft: wait) }
            try await sleep(seconds: wait + 0.001)
        }
    }

    /// The counter value calls are paced to: the max, less what `jitterMargin` seconds of decay give back.
    static func pacedMax(_ limit: RateLimit, jitterMargin: Double) -> Double {
        limit.max - min(1, limit.decayPerSecond * jitterMargin)
    }

    /// The limit calls are paced by now. The first call of a run loads what earlier runs learned for the key
    /// (``LearnedPacing``): in force while the config says what it said then, forgotten otherwise.
    func currentLimit() async throws(CollectError) -> RateLimit {
        if let limit = pacing.loaded { return limit }
        let (fingerprint, configured) = (self.fingerprint, limit)
        let learned = try await dbRun { db in try LearnedPacing.load(on: db, fingerprint: fingerprint) }
        guard let learned else { return pacing.load(configured) }
        guard learned.applies(toConfiguredMax: configured.max, decay: configured.decayPerSecond) else {
            try await dbRun { db in try LearnedPacing.forget(on: db, fingerprint: fingerprint) }
            logger.notice(
                "forgetting the rate limit learned for this key: the configured tier or rate_limit changed since, or it is older than 30 days",
                metadata: [
                    "key": "\(fingerprint)", "learned": "\(learned.label)", "config_said": "\(learned.configLabel)",
                    "config_says": "\(configLabel)", "learned_at": "\(learned.learnedAt)",
                ])
            return pacing.load(configured)
        }
        let limit = pacing.load(
            RateLimit(
                max: min(learned.max, configured.max), decayPerSecond: min(learned.decayPerSecond, configured.decayPerSecond)))
        logger.info(
            "pacing this key slower than configured, as learned by an earlier run",
            metadata: [
                "key": "\(fingerprint)", "behaves_like": "\(learned.label)", "config_says": "\(configLabel)",
                "learned_at": "\(learned.learnedAt)", "reason": "\(learned.reason)",
            ])
        return limit
    }

    /// Logs, once per key and run (at its end), that the key was paced slower than configured and why; nothing
    /// when it was paced as configured.
    public func logPacingCorrection() {
        guard let now = pacing.loaded, now != limit else { return }
        logger.warning(
            "key behaves like a lower tier than configured: collection was paced slower",
            metadata: [
                "key": "\(fingerprint)", "behaves_like": "\(TierLadder.label(now))", "config_says": "\(configLabel)",
                "max": "\(now.max)", "decay_per_second": "\(now.decayPerSecond)",
                "rate_limit_errors_this_run": "\(pacing.rateLimitErrors)",
                "fix": "set the [[account]]'s tier (or rate_limit) to what the key behaves like; see kraken-audit doctor",
            ])
    }

    /// Kraken answered `EAPI:Rate limit exceeded` although the call was paced: its counter is at its max and the
    /// rejected call is charged too (../shared/kraken-api.md §5.1). Lowers the assumed limit one step (kept in
    /// the database for later runs) and sets the counter estimate to the max plus the cost, so ``acquire``
    /// waits until the counter has decayed enough for the retry at the new decay. Already at Starter's limit
    /// (or below), something else spends the key's budget: back off a full decay period on top (§5.3).
    func rateLimited(method: String, cost: Double, error: KrakenError) async throws(CollectError) {
        let before = try await currentLimit()
        let lowered = TierLadder.next(below: before)
        let now = lowered ?? before
        let counter = now.max + cost + (lowered == nil ? now.max : 0)
        let wait = (counter + cost - Self.pacedMax(now, jitterMargin: jitterMargin)) / now.decayPerSecond
        let fingerprint = self.fingerprint
        var errorText = error.kindName
        if case .api(_, let errors) = error { errorText = errors.map(\.raw).joined(separator: ", ") }
        var learned: LearnedPacing? = nil
        if let lowered {
            pacing.lower(to: lowered)
            learned = LearnedPacing(
                max: lowered.max, decayPerSecond: lowered.decayPerSecond, label: TierLadder.label(lowered), learnedAt: Date(),
                reason: "\(errorText) on \(method) while pacing as \(TierLadder.label(before))", configMax: limit.max,
                configDecay: limit.decayPerSecond, configLabel: configLabel)
        }
        try await dbRun { [learned] db in
            if let learned { try LearnedPacing.record(learned, on: db, fingerprint: fingerprint) }
            try db.execute(
                "UPDATE audit.api_keys SET counter_value = $2, counter_updated_at = clock_timestamp() WHERE key_fingerprint = $1",
                [fingerprint, counter])
        }
        pacing.countRateLimitError()
        let metadata: Logger.Metadata = [
            "key": "\(fingerprint)", "method": "\(method)", "error": "\(errorText)",
            "backoff_s": "\(String(format: "%.1f", wait))", "pacing_as": "\(TierLadder.label(now))",
            "config_says": "\(configLabel)",
        ]
        // The warning for a lowered limit comes once, at the end of the run (logPacingCorrection).
        if learned != nil {
            logger.notice("rate limit exceeded despite pacing: assumed counter lowered", metadata: metadata)
        } else {
            logger.warning(
                "rate limit exceeded at the slowest tier's pacing: is another program using this key? backing off", metadata: metadata)
        }
    }

    /// Returns the key's call lease and writes the call log row.
    private func release(record: CallRecord?, error: KrakenError?, retry: Int) async throws(CollectError) {
        let (token, runId, accountId, fingerprint) = (self.token, self.runId, self.accountId, self.fingerprint)
        let held = try await dbRun { db in
            // One transaction (one commit per call fewer: at a thousand accounts the commits are the bottleneck);
            // should it fail, the lease is still returned on its own.
            do {
                return try db.transaction {
                    try Self.endCall(db, record: record, error: error, retry: retry, ids: (token, runId, accountId, fingerprint))
                }
            } catch {
                _ = try? db.query("SELECT audit.end_call($1, $2::uuid, $3)", [fingerprint, token, record != nil])
                throw error
            }
        }
        if !held {
            // The call outlived its lease (the process stalled past the timeout): another process may have called
            // with a higher nonce meanwhile. Nothing is lost (the answer is used and logged); worth knowing.
            logger.warning(
                "a Kraken call outlived its lease on the key; another process may have used the key meanwhile",
                metadata: ["key": "\(fingerprint)", "lease_s": "\(leaseSeconds)"])
        }
    }

    /// Returns the lease and logs the call (``release(record:error:retry:)``); whether the lease was still ours.
    private static func endCall(
        _ db: PGConnection, record: CallRecord?, error: KrakenError?, retry: Int,
        ids: (token: String, runId: Int64?, accountId: Int, fingerprint: String)
    ) throws -> Bool {
        let (token, runId, accountId, fingerprint) = ids
        // Kraken charged this call when the request arrived, somewhere between take_call and this answer.
        // The estimate assumed the moment take_call ran; end_call moves it to now, so the decay of the time in
        // flight is never counted (a request delayed on its way, e.g. on a loaded machine, would otherwise
        // let the next call in while Kraken's counter is still higher: seen as a counter 0.18 over max).
        // Done in the statement that returns the lease, so no other process paces by the older moment.
        let held = try db.query("SELECT audit.end_call($1, $2::uuid, $3)", [fingerprint, token, record != nil]).rows[0]
            .decode(0, as: Bool.self)
        guard let record else { return held }
        let params = JSONValue.object(record.parameters.map { ($0.0, .string($0.1)) }).jsonText
        try db.execute(
            """
            INSERT INTO audit.api_calls (run_id, account_id, key_fingerprint, endpoint, nonce, params, started_at,
                duration_ms, http_status, errors, error_kind, retry, bytes, counter_after)
            SELECT $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::text[], $11, $12, $13,
                   counter_value FROM audit.api_keys WHERE key_fingerprint = $3
            """,
            [
                runId, accountId, fingerprint, record.method, record.nonce.map { Int64($0) }, params, record.started,
                record.duration * 1000, record.httpStatus, PGArray.text(record.errors), error?.kindName, retry,
                record.bytes,
            ])
        return held
    }

    private func markLockout() async throws(CollectError) {
        let (fingerprint, seconds) = (self.fingerprint, Self.lockoutSeconds)
        try await dbRun { db in
            try db.execute(
                "UPDATE audit.api_keys SET lockout_until = clock_timestamp() + make_interval(secs => $2) WHERE key_fingerprint = $1",
                [fingerprint, seconds])
        }
    }
}

/// Remembers the last call the client made (calls of one ``PacedClient`` are sequential).
final class LastCallRecorder: CallObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var last: CallRecord?

    func record(_ call: CallRecord) async { lock.withLock { last = call } }

    func take() -> CallRecord? {
        lock.withLock {
            defer { last = nil }
            return last
        }
    }
}

/// The paced client always passes its own nonce; taking one from here is a programming error reported as such.
struct NoNonces: NonceSource {
    func nextNonce() async throws -> UInt64 {
        throw KrakenError.nonceUnavailable(reason: "nonces come from audit.take_call")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
