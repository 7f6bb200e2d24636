import AuditConfig
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// Kraken's counter cost per private method (../shared/kraken-api.md §5.1: budget 2 for the ledger and trade
/// history calls and their Query* variants, 1 for the rest).
public enum CallCost {
    public static func of(_ method: String) -> Double {
        switch method {
        case "Ledgers", "TradesHistory", "QueryLedgers", "QueryTrades": return 2
        default: return 1
        }
    }
}

/// How transient failures are retried: jittered exponential backoff, each attempt with a fresh nonce.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 1, maxDelay: Double = 30) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Delay before attempt `n` (n >= 1): full jitter over base * 2^(n-1), capped.
    func delay(attempt n: Int) -> Double {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(n - 1)))
        return Double.random(in: (ceiling / 2)...ceiling)
    }
}

/// Sends one account's private calls: paced so Kraken's counter never exceeds its max, serialised per key
/// across processes, logged in `audit.api_calls`, retried per the error taxonomy (§6).
///
/// Budget and nonce are taken in one atomic step in the database (`audit.take_call`), under a per-key
/// advisory lock held until the response arrives, so calls of one key never overtake each other, even from
/// two processes, and a new process starts from the counter the last one left.
public final class PacedClient: Sendable {
    public let account: String
    public let accountId: Int
    public let fingerprint: String
    let client: KrakenClient
    let db: PGConnection
    let limit: RateLimit
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
        db: PGConnection, runId: Int64?, transport: any HTTPTransport, timeout: Double, retry: RetryPolicy,
        jitterMargin: Double = 0.25, logger: Logger
    ) throws {
        self.account = account
        self.accountId = accountId
        self.fingerprint = credentials.fingerprint
        self.db = db
        self.limit = limit
        self.retry = retry
        self.runId = runId
        self.logger = logger
        self.jitterMargin = jitterMargin
        self.client = try KrakenClient(
            baseURL: apiURL, credentials: credentials, nonces: NoNonces(), transport: transport, observer: recorder,
            timeout: timeout, logger: logger)
    }

    var lockKey: Int64 {
        // Stable 63-bit key from the fingerprint's hex digits.
        Int64(bitPattern: UInt64(fingerprint.suffix(16), radix: 16) ?? 0) & 0x3FFF_FFFF_FFFF_FFFF
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
                    // Believe Kraken: the counter is at max; take_call now waits for it to decay.
                    try await dbRun { [fingerprint, limit] db in
                        try db.execute("SELECT audit.counter_exceeded($1, $2)", [fingerprint, limit.max])
                    }
                    logger.warning("rate limit exceeded; backing off", metadata: ["method": "\(method)"])
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

    /// Waits for budget and takes a nonce; on return the key's advisory lock is held until ``release``.
    private func acquire(cost: Double) async throws(CollectError) -> UInt64 {
        let max = limit.max - min(1, limit.decayPerSecond * jitterMargin)
        while true {
            if Task.isCancelled { throw .cancelled }
            let (fingerprint, key, decay) = (self.fingerprint, lockKey, limit.decayPerSecond)
            let (nonce, wait, locked): (Int64?, Double, Bool) = try await dbRun { db in
                try db.advisoryLock(key)
                do {
                    let r = try db.query(
                        "SELECT nonce, wait_seconds, locked FROM audit.take_call($1, $2, $3, $4, $5)",
                        [fingerprint, cost, max, decay, NonceStore.nowMillis()]
                    ).rows[0]
                    let nonce = try r.decodeOptional(0, as: Int64.self)
                    if nonce == nil { try db.advisoryUnlock(key) }
                    return (nonce, try r.decode(1, as: Double.self), try r.decode(2, as: Bool.self))
                } catch {
                    _ = try? db.advisoryUnlock(key)
                    throw error
                }
            }
            if let nonce { return UInt64(nonce) }
            if locked { throw .lockedOut(fingerprint: fingerprint, secondsLeft: wait) }
            try await sleep(seconds: wait + 0.001)
        }
    }

    /// Releases the key lock and writes the call log row.
    private func release(record: CallRecord?, error: KrakenError?, retry: Int) async throws(CollectError) {
        let (key, runId, accountId, fingerprint) = (lockKey, self.runId, self.accountId, self.fingerprint)
        try await dbRun { db in
            try db.advisoryUnlock(key)
            guard let record else { return }
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
        }
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

/// PostgreSQL array literals for binds.
public enum PGArray {
    /// `{"a","b"}` with quoting and escaping.
    public static func text(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
