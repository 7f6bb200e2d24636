import AuditKernel
import Foundation
import KrakenAPI
import Logging

/// All mutable simulator state: histories, keys and counters, faults, request log, ground truth.
public actor SimulatorState {
    public let options: SimulatorOptions
    let logger: Logger
    var accounts: [SimAccount] = []
    var keyIndex: [String: Int] = [:]
    var lockouts: [String: LockoutState] = [:]
    var faults: [FaultRule]
    var faultRNG: SeededRandom
    var clockOffset: Double = 0
    var monotonicAdvance: Double = 0
    let started = ContinuousClock.now
    var log: [RequestLogEntry] = []
    var sequence = 0
    var runtimeTruth: [PlantedAnomaly] = []
    struct Armed { var plan: InjectionPlan; var served: Int; var truthIndex: Int?; var methods: [String] }
    var armed: [Armed] = []
    let endSeconds: Int64
    let timeZone: TimeZone
    /// Reports requested with `AddExport` (SimulatorState+Exports.swift) and their id generator.
    var exports: [SimExport] = []
    var exportRNG: SeededRandom
    /// WebSocket v2 (SimulatorState+WebSocket.swift): connections and their faults, and the tokens issued by
    /// `GetWebSocketsToken`.
    let wsHub: WSHub
    var wsTokens: [String: WSToken] = [:]
    /// Tokens still to be issued already revoked, per account (`expire-tokens` with `next`).
    var wsRevokeNext: [String: Int] = [:]
    var wsTokenRNG: SeededRandom

    /// Generates every account's history (deterministic in the options) and sets up keys.
    public init(options: SimulatorOptions, logger: Logger) throws(SimulatorError) {
        try options.validate()
        self.options = options
        self.logger = logger
        faults = options.faults
        faultRNG = SeededRandom(seed: options.faultSeed ^ options.seed, stream: "faults")
        exportRNG = SeededRandom(seed: options.seed, stream: "exports")
        wsTokenRNG = SeededRandom(seed: options.seed, stream: "ws-tokens")
        wsHub = WSHub(seed: options.seed)
        guard let zone = TimeZone(identifier: options.timeZone) else { throw .invalidOption("unknown time zone") }
        timeZone = zone
        endSeconds = options.endSeconds ?? (Int64(Date().timeIntervalSince1970) / 86_400 * 86_400)
        let built = try Self.buildAccounts(options: options, endSeconds: endSeconds, timeZone: zone)
        accounts = built
        for (i, a) in built.enumerated() {
            keyIndex[a.key.apiKey] = i
            a.wsHub = wsHub
        }
        armed = options.effectiveInjections.map { Armed(plan: $0, served: 0, truthIndex: nil, methods: []) }
    }

    static func buildAccounts(options: SimulatorOptions, endSeconds: Int64, timeZone: TimeZone) throws(SimulatorError) -> [SimAccount] {
        var out: [SimAccount] = []
        for (index, name) in options.accountNames.enumerated() {
            let params = HistoryParameters(
                seed: options.seed, accountIndex: index, account: name,
                startSeconds: endSeconds - Int64(options.days) * 86_400, endSeconds: endSeconds, timeZone: timeZone,
                businessStartMinute: options.businessStartMinute, businessEndMinute: options.businessEndMinute,
                businessWeekdays: options.businessWeekdays, targetLedgerEntries: options.scale, clean: options.clean)
            var builder = HistoryBuilder.generate(params)
            let creds = KeyState.credentials(seed: options.seed, account: name)
            // The secret is base64 of 64 bytes by construction; a failure here would be a simulator bug.
            guard let signer = try? RequestSigner(secret: Secret(creds.secret)) else {
                throw .invalidOption("internal: generated secret for \(name) is not base64")
            }
            var key = KeyState(
                account: name, apiKey: creds.apiKey, secret: creds.secret, signer: signer,
                permissions: options.accountPermissions[name] ?? options.permissions, otp: options.otp[name],
                nonceWindow: options.nonceWindow, createdTime: endSeconds - Int64(options.days) * 86_400 - 86_400)
            if !options.clean, index == 1 { plantKeyWithoutIPAllowlist(&key, in: &builder) }
            out.append(SimAccount(name: name, builder: builder, key: key))
        }
        return out
    }

    // MARK: Clocks

    /// Simulated wall clock (real time plus the clock-jump offset), ticks of 1e-4 s.
    public func nowTicks() -> Int64 { Int64(((Date().timeIntervalSince1970 + clockOffset) * 10_000).rounded()) }

    /// Monotonic seconds since start, plus manual advances (drives counter decay and lockouts).
    func monotonicNow() -> Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 + monotonicAdvance
    }

    var maxCounter: Double { options.maxCounter ?? options.tier.maxCounter }
    var decayPerSecond: Double { options.decayPerSecond ?? options.tier.decayPerSecond }

    // MARK: Public Swift API

    /// Credentials of every account.
    public var simulatedAccounts: [SimulatedAccount] {
        accounts.map { SimulatedAccount(name: $0.name, apiKey: $0.key.apiKey, secret: $0.key.secret, permissions: $0.key.permissions) }
    }

    /// Counter and nonce of `account`'s key.
    public func counter(account: String) throws(SimulatorError) -> CounterSnapshot {
        let a = try find(account)
        a.key.decay(now: monotonicNow(), perSecond: decayPerSecond)
        let until = lockouts[a.key.apiKey]?.lockedUntil ?? 0
        return CounterSnapshot(
            account: a.name, counter: a.key.counter, maxCounter: maxCounter, decayPerSecond: decayPerSecond,
            maxCounterEver: a.key.maxCounterEver, highestNonce: a.key.highestNonce, calls: a.key.calls,
            successfulCalls: a.key.successfulCalls, rateLimited: a.key.rateLimited,
            lockoutRemaining: max(0, until - monotonicNow()))
    }

    /// Zeroes counters and their maxima (all accounts, or one).
    public func resetCounters(account: String? = nil) throws(SimulatorError) {
        for a in accounts where account == nil || a.name == account {
            a.key.counter = 0
            a.key.maxCounterEver = 0
            a.key.counterUpdated = monotonicNow()
        }
        if let account { _ = try find(account) }
    }

    /// The last `limit` request-log entries, oldest first.
    public func requestLog(limit: Int = 1000) -> [RequestLogEntry] { Array(log.suffix(limit)) }

    /// Sets the simulated wall clock's offset from real time.
    public func setClockOffset(_ seconds: Double) { clockOffset = seconds }
    public var clockOffsetSeconds: Double { clockOffset }

    /// Moves the monotonic clock (counter decay, lockouts) forward without waiting.
    public func advanceMonotonicClock(by seconds: Double) { monotonicAdvance += max(0, seconds) }

    /// Sets the permissions of `account`'s key.
    public func setPermissions(account: String, _ permissions: [String]) throws(SimulatorError) {
        try find(account).key.permissions = permissions
    }

    /// Appends `trades` filled orders at the simulated now; returns the number of ledger entries added.
    @discardableResult
    public func addActivity(account: String, trades: Int) throws(SimulatorError) -> Int {
        let a = try find(account)
        let start = a.builder.history.ledger.count
        let n = a.builder.liveActivity(count: max(0, trades), time: nowTicks())
        a.historyChanged(fromLedgerIndex: start)
        return n
    }

    /// Restores the initial state: history regenerated from the seed, nonces, counters, faults, log, run-time truth.
    public func reset() {
        // The options were valid at init, so regeneration cannot fail; keep the old state if it somehow does.
        guard let rebuilt = try? Self.buildAccounts(options: options, endSeconds: endSeconds, timeZone: timeZone) else { return }
        accounts = rebuilt
        keyIndex = [:]
        for (i, a) in accounts.enumerated() {
            keyIndex[a.key.apiKey] = i
            a.wsHub = wsHub
        }
        wsTokens = [:]
        wsRevokeNext = [:]
        wsTokenRNG = SeededRandom(seed: options.seed, stream: "ws-tokens")
        lockouts = [:]
        faults = options.faults
        faultRNG = SeededRandom(seed: options.faultSeed ^ options.seed, stream: "faults")
        clockOffset = 0
        exports = []
        exportRNG = SeededRandom(seed: options.seed, stream: "exports")
        log = []
        runtimeTruth = []
        armed = options.effectiveInjections.map { Armed(plan: $0, served: 0, truthIndex: nil, methods: []) }
        writeTruthFile()
    }

    /// The rows of `account` as Kraken would serve them.
    public func export(account: String) throws(SimulatorError) -> AccountExport {
        let a = try find(account)
        let e = PrivateEndpoints(account: a, withoutCountOmitsCount: true)
        let h = a.builder.history
        return AccountExport(
            ledger: h.ledger.map { (h.ledgerID($0), e.ledgerJSON($0)) },
            trades: h.trades.map { (h.tradeID($0.serial), e.tradeJSON($0, ledgers: true)) },
            orders: h.orders.map { (h.orderID($0.serial), e.orderJSON($0, trades: true)) },
            withdrawals: h.fundings.filter(\.isWithdrawal).map(e.fundingJSON),
            deposits: h.fundings.filter { !$0.isWithdrawal }.map(e.fundingJSON),
            balance: e.balance())
    }

    /// Row counts of `account` (ledger, trades, orders, fundings).
    public func counts(account: String) throws(SimulatorError) -> (ledger: Int, trades: Int, orders: Int, fundings: Int) {
        let h = try find(account).builder.history
        return (h.ledger.count, h.trades.count, h.orders.count, h.fundings.count)
    }

    /// SHA-256 over the account's served history (equal digests = equal data).
    public func historyDigest(account: String) throws(SimulatorError) -> String {
        let e = try export(account: account)
        var text = ""
        for (id, v) in e.ledger { text += id + v.jsonText + "\n" }
        for (id, v) in e.trades { text += id + v.jsonText + "\n" }
        for (id, v) in e.orders { text += id + v.jsonText + "\n" }
        for v in e.withdrawals + e.deposits { text += v.jsonText + "\n" }
        return Crypto.sha256Hex(Array(text.utf8))
    }

    func find(_ name: String) throws(SimulatorError) -> SimAccount {
        guard let a = accounts.first(where: { $0.name == name }) else { throw .unknownAccount(name) }
        return a
    }

    // MARK: Request handling

    static let pagedMethods: Set<String> = ["Ledgers", "TradesHistory", "ClosedOrders"]

    /// Handles one request (Kraken API or control API).
    public func handle(_ request: SimHTTPRequest) -> SimHTTPResponse {
        if request.path == "/_sim" || request.path.hasPrefix("/_sim/") { return control(request) }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 3, parts[0] == "0", parts[1] == "private" || parts[1] == "public" else {
            return .respond(status: 404, contentType: "text/html", body: Array(FaultPages.notFound.utf8), delay: 0)
        }
        let isPrivate = parts[1] == "private"
        let method = parts[2]
        sequence += 1
        var fault: String? = nil
        var account: SimAccount? = nil
        if isPrivate, let k = request.headers["api-key"], let i = keyIndex[k] { account = accounts[i] }

        // Faults that act before the request is processed.
        if drawFault(.clockJump, method: method) {
            clockOffset += options.clockJumpSeconds
            fault = FaultKind.clockJump.rawValue
        }
        if isPrivate, Self.pagedMethods.contains(method), let a = account, drawFault(.liveInserts, method: method) {
            let start = a.builder.history.ledger.count
            _ = a.builder.liveActivity(count: options.liveInsertTrades, time: nowTicks())
            a.historyChanged(fromLedgerIndex: start)
            fault = FaultKind.liveInserts.rawValue
        }

        var nonce: UInt64? = nil
        let answer =
            isPrivate
            ? privateCall(method: method, request: request, nonce: &nonce)
            : CallAnswer(publicCall(method: method, request: request))
        let envelope = answer.envelope
        var status = 200
        var contentType = "application/json; charset=utf-8"
        var body = Array(envelope.jsonText.utf8)
        var errors = envelope["error"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var reset = false
        if let binary = answer.binary {
            // A successful RetrieveExport: the zip itself, not an envelope (../shared/kraken-export-api.md §3).
            contentType = "application/octet-stream"
            body = binary
            errors = []
        }

        if let kind = drawResponseFault(method: method) {
            fault = kind.rawValue
            switch kind {
            case .http500, .http502, .http504, .http520:
                status = Int(kind.rawValue.dropFirst(5)) ?? 500
                contentType = "text/html; charset=UTF-8"
                body = Array(FaultPages.page(status).utf8)
                errors = ["HTTP \(status)"]
            case .serviceUnavailable, .serviceBusy:
                let e = kind == .serviceBusy ? "EService:Busy" : "EService:Unavailable"
                body = Array(errorEnvelope([e]).jsonText.utf8)
                errors = [e]
            case .truncatedJSON:
                body = Array(body.prefix(max(1, body.count / 2)))
            case .malformedJSON:
                body = Array(FaultPages.malformed(&faultRNG).utf8)
            case .connectionReset:
                reset = true
            default: break
            }
        }
        let delay = drawFault(.slow, method: method) ? options.slowSeconds : 0
        if delay > 0 { fault = (fault.map { $0 + "," } ?? "") + FaultKind.slow.rawValue }
        appendLog(
            RequestLogEntry(
                sequence: sequence, time: nowTicks(), httpMethod: request.method, path: request.path, account: account?.name,
                nonce: nonce, httpStatus: reset ? nil : status, errors: errors, fault: fault, counterAfter: account?.key.counter))
        if reset { return .reset(delay: delay) }
        return .respond(status: status, contentType: contentType, body: body, delay: delay)
    }

    func appendLog(_ entry: RequestLogEntry) {
        log.append(entry)
        if log.count > options.requestLogLimit { log.removeFirst(log.count - options.requestLogLimit) }
    }

    func errorEnvelope(_ errors: [String]) -> JSONValue {
        var m: [(String, JSONValue)] = [("error", .array(errors.map(JSONValue.string)))]
        if options.errorsWithEmptyResult { m.append(("result", .object([]))) }
        return .object(m)
    }

    func resultEnvelope(_ result: JSONValue) -> JSONValue { .object([("error", .array([])), ("result", result)]) }

    // MARK: Public calls

    func publicCall(method: String, request: SimHTTPRequest) -> JSONValue {
        var pairs = FormEncoding.decode(request.query) ?? []
        if request.method == "POST" { pairs += FormEncoding.decode(String(decoding: request.body, as: UTF8.self)) ?? [] }
        let params = Params(values: pairs)
        do {
            switch method {
            case "Time": return resultEnvelope(PublicEndpoints.time(nowTicks: nowTicks()))
            case "SystemStatus": return resultEnvelope(PublicEndpoints.systemStatus(nowTicks: nowTicks()))
            case "Assets": return resultEnvelope(try PublicEndpoints.assets(params))
            case "AssetPairs": return resultEnvelope(try PublicEndpoints.assetPairs(params))
            default: return errorEnvelope(["EGeneral:Unknown method"])
            }
        } catch {
            return errorEnvelope([error.message])
        }
    }

    func dispatch(method: String, params: Params, account a: SimAccount) -> CallAnswer {
        let e = PrivateEndpoints(account: a, withoutCountOmitsCount: options.withoutCountOmitsCount)
        do {
            switch method {
            case "Ledgers": return CallAnswer(resultEnvelope(try e.ledgers(params)))
            case "QueryLedgers": return CallAnswer(resultEnvelope(try e.queryLedgers(params)))
            case "TradesHistory": return CallAnswer(resultEnvelope(try e.tradesHistory(params)))
            case "QueryTrades": return CallAnswer(resultEnvelope(try e.queryTrades(params)))
            case "ClosedOrders": return CallAnswer(resultEnvelope(try e.closedOrders(params)))
            case "QueryOrders": return CallAnswer(resultEnvelope(try e.queryOrders(params, permissions: a.key.permissions)))
            case "OpenOrders": return CallAnswer(resultEnvelope(try e.openOrders(params)))
            case "WithdrawStatus": return CallAnswer(resultEnvelope(try e.fundingStatus(params, withdrawals: true)))
            case "DepositStatus": return CallAnswer(resultEnvelope(try e.fundingStatus(params, withdrawals: false)))
            case "Balance": return CallAnswer(resultEnvelope(e.balance()))
            case "BalanceEx": return CallAnswer(resultEnvelope(e.balanceEx()))
            case "GetApiKeyInfo": return CallAnswer(resultEnvelope(apiKeyInfo(a)))
            case "AddExport": return CallAnswer(resultEnvelope(try addExport(params, account: a)))
            case "ExportStatus": return CallAnswer(resultEnvelope(try exportStatus(params, account: a)))
            case "RemoveExport": return CallAnswer(resultEnvelope(try removeExport(params, account: a)))
            case "RetrieveExport": return CallAnswer(resultEnvelope(.null), binary: try retrieveExport(params, account: a))
            case "GetWebSocketsToken": return CallAnswer(resultEnvelope(issueWebSocketToken(a)))
            default: return CallAnswer(errorEnvelope(["EAPI:Feature disabled"]))
            }
        } catch {
            return CallAnswer(errorEnvelope([error.message]))
        }
    }

    func apiKeyInfo(_ a: SimAccount) -> JSONValue {
        var r = SeededRandom(seed: options.seed, stream: "iban/\(a.name)")
        let chars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let iban =
            "AA\(r.int(10...99)) " + (0..<3).map { _ in String((0..<4).map { _ in chars[r.int(0..<chars.count)] }) }.joined(separator: " ")
        let k = a.key
        let (nonce, lastUsed) = k.keyInfoExcludesCurrent ? (k.highestNonceBefore, k.lastUsedBefore) : (k.highestNonce, k.lastUsed)
        return .object([
            ("apiKeyName", .string("\(a.name)-audit")), ("apiKey", .string(k.apiKey)),
            ("nonce", .string(String(nonce))), ("nonceWindow", .number(String(k.nonceWindow))),
            ("permissions", .array(k.permissions.map(JSONValue.string))), ("iban", .string(iban)),
            ("validUntil", .string(String(k.validUntil))), ("queryFrom", .string(String(k.queryFrom))),
            ("queryTo", .string(String(k.queryTo))),
            ("createdTime", .string(String(k.createdTime))), ("modifiedTime", .string(String(k.modifiedTime ?? k.createdTime + 195))),
            ("ipAllowlist", .array(k.ipAllowlist.map(JSONValue.string))), ("lastUsed", lastUsed.map { .string(String($0)) } ?? .null),
        ])
    }

}
