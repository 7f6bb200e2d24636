import Foundation
import KrakenAPI
import Logging

/// An HTTP request as the simulator sees it (transport-independent, so tests may call the state directly).
public struct SimHTTPRequest: Sendable {
    public var method: String
    /// Path without the query string, e.g. `/0/private/Ledgers`.
    public var path: String
    public var query: String
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
    }
}

/// What the transport must do with a request.
public enum SimHTTPResponse: Sendable, Equatable {
    /// Send this status, content type and body after `delay` seconds.
    case respond(status: Int, contentType: String, body: [UInt8], delay: Double)
    /// Close the connection without any response (after `delay` seconds).
    case reset(delay: Double)
}

/// A key's rate-limit counter and nonce, as the control endpoint shows them.
public struct CounterSnapshot: Sendable, Equatable {
    public let account: String
    /// Current counter value (after decay up to now).
    public let counter: Double
    public let maxCounter: Double
    public let decayPerSecond: Double
    /// Highest counter value ever reached (a client that never got `EAPI:Rate limit exceeded` stays <= max).
    public let maxCounterEver: Double
    public let highestNonce: UInt64
    public let calls: Int
    public let successfulCalls: Int
    public let rateLimited: Int
    /// Seconds of lockout left (0 if not locked).
    public let lockoutRemaining: Double

    var json: JSONValue {
        .object([
            ("account", .string(account)), ("counter", .number(Self.num(counter))), ("max", .number(Self.num(maxCounter))),
            ("decay_per_second", .number(Self.num(decayPerSecond))), ("max_counter_ever", .number(Self.num(maxCounterEver))),
            ("nonce", .string(String(highestNonce))), ("calls", .number(String(calls))),
            ("successful_calls", .number(String(successfulCalls))), ("rate_limited", .number(String(rateLimited))),
            ("lockout_remaining_seconds", .number(Self.num(lockoutRemaining))),
        ])
    }

    static func num(_ v: Double) -> String { String(format: "%.4f", v) }
}

/// One line of the request log.
public struct RequestLogEntry: Sendable {
    public let sequence: Int
    public let time: Int64
    public let httpMethod: String
    public let path: String
    public let account: String?
    public let nonce: UInt64?
    public let httpStatus: Int?
    public let errors: [String]
    public let fault: String?
    public let counterAfter: Double?

    var json: JSONValue {
        var m: [(String, JSONValue)] = [
            ("seq", .number(String(sequence))), ("time", .string(TimeFormat.iso(ticks: time))),
            ("http_method", .string(httpMethod)), ("path", .string(path)),
            ("account", account.map(JSONValue.string) ?? .null), ("nonce", nonce.map { .string(String($0)) } ?? .null),
            ("http_status", httpStatus.map { .number(String($0)) } ?? .null),
            ("errors", .array(errors.map(JSONValue.string))), ("fault", fault.map(JSONValue.string) ?? .null),
        ]
        m.append(("counter_after", counterAfter.map { .number(CounterSnapshot.num($0)) } ?? .null))
        return .object(m)
    }
}

/// Served rows of one account, in the JSON Kraken would send (for tests comparing a collector's store).
public struct AccountExport: Sendable {
    public let ledger: [(id: String, entry: JSONValue)]
    public let trades: [(id: String, trade: JSONValue)]
    public let orders: [(id: String, order: JSONValue)]
    public let withdrawals: [JSONValue]
    public let deposits: [JSONValue]
    /// `Balance` result.
    public let balance: JSONValue
}

/// A simulated account's credentials.
public struct SimulatedAccount: Sendable, Equatable {
    public let name: String
    public let apiKey: String
    /// Base64 of 64 deterministic bytes.
    public let secret: String
    public let permissions: [String]
}

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
    /// Reports requested with `AddExport` (Exports.swift), their id generator, and the binary body a
    /// `RetrieveExport` answer carries instead of a JSON envelope.
    var exports: [SimExport] = []
    var exportRNG: SeededRandom
    var binaryAnswer: [UInt8]? = nil

    /// Generates every account's history (deterministic in the options) and sets up keys.
    public init(options: SimulatorOptions, logger: Logger) throws(SimulatorError) {
        try options.validate()
        self.options = options
        self.logger = logger
        faults = options.faults
        faultRNG = SeededRandom(seed: options.faultSeed ^ options.seed, stream: "faults")
        exportRNG = SeededRandom(seed: options.seed, stream: "exports")
        guard let zone = TimeZone(identifier: options.timeZone) else { throw .invalidOption("unknown time zone") }
        timeZone = zone
        endSeconds = options.endSeconds ?? (Int64(Date().timeIntervalSince1970) / 86_400 * 86_400)
        let built = try Self.buildAccounts(options: options, endSeconds: endSeconds, timeZone: zone)
        accounts = built
        for (i, a) in built.enumerated() { keyIndex[a.key.apiKey] = i }
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

    /// The second account's key has no IP allowlist (the seed's "critical security measure for production
    /// systems" left off): `key_posture`, medium, on every run until it is set.
    static func plantKeyWithoutIPAllowlist(_ key: inout KeyState, in builder: inout HistoryBuilder) {
        key.ipAllowlist = []
        builder.recordRaw(
            kind: "key_without_ip_allowlist", rule: .keyPosture, entityType: "api_key",
            entityID: KrakenCredentials.fingerprint(of: key.apiKey), time: key.createdTime * 10_000,
            details: [
                ("condition", .string("no_ip_allowlist")),
                ("reason", .string("the audit key accepts calls from any address: no IP allowlist set")),
            ])
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

    /// Every planted anomaly so far (history and fired run-time injections).
    public var anomalies: [PlantedAnomaly] { accounts.flatMap(\.builder.truth) + runtimeTruth }

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

    /// Adds a fault switch.
    public func addFault(_ rule: FaultRule) { faults.append(rule) }

    /// Removes fault switches (all, or those of `kind`).
    public func clearFaults(kind: FaultKind? = nil) { faults.removeAll { kind == nil || $0.kind == kind } }

    /// Active fault switches.
    public var activeFaults: [FaultRule] { faults }

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

    /// Arms an error injection for the next `count` private calls of `account` (recorded in the truth when served).
    public func inject(account: String, error: String, count: Int) throws(SimulatorError) {
        let a = try find(account)
        guard count > 0, error.hasPrefix("E") else { throw .invalidOption("inject needs an E... error string and count > 0") }
        armed.append(Armed(plan: InjectionPlan(account: account, error: error, afterCalls: a.key.successfulCalls, count: count), served: 0, truthIndex: nil, methods: []))
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

    /// Plants an anomaly now (history kinds from ``PlantKind`` raw values, or `nonce_errors` /
    /// `permission_denied_burst` which arm an injection). Returns the new truth entries.
    public func plantNow(account: String, kind: String) throws(SimulatorError) -> [PlantedAnomaly] {
        let a = try find(account)
        switch kind {
        case "nonce_errors", "nonce_errors_second_client":
            try inject(account: account, error: "EAPI:Invalid nonce", count: 3)
            return []
        case "permission_denied_burst", "api_error_burst":
            try inject(account: account, error: "EGeneral:Permission denied", count: 5)
            return []
        default: break
        }
        guard let plant = PlantKind(rawValue: kind), plant != .dstSpringTrade, plant != .dstAutumnTrade else {
            throw .invalidOption("unknown or time-bound anomaly kind '\(kind)'; kinds: \(PlantKind.allCases.filter { $0 != .dstSpringTrade && $0 != .dstAutumnTrade }.map(\.rawValue).joined(separator: ", ")), nonce_errors, permission_denied_burst")
        }
        let before = a.builder.truth.count
        let startLedger = a.builder.history.ledger.count
        let now = max(nowTicks(), a.builder.lastTime + 1)
        let day = SimDay(midnight: now, open: now, close: now + 36_000_000, business: true, offset: 0)
        a.builder.plant(plant, time: now, day: day)
        if plant == .ledgerGap {
            // Drop a staking reward now and book the next one so the gap is visible immediately.
            if a.builder.balances[Catalogue.dotStaked] == 0 {
                a.builder.appendLedger(time: now, type: .transfer, subtype: .stakingFromSpot, asset: Catalogue.dotStaked, amount: 10_000_000_000, fee: 0, refKind: .misc, refValue: a.builder.nextMisc)
                a.builder.nextMisc += 1
            }
            a.builder.plantStakingReward(time: now + 1)
            a.builder.plantStakingReward(time: now + 2)
        }
        a.historyChanged(fromLedgerIndex: startLedger)
        writeTruthFile()
        return Array(a.builder.truth[before...])
    }

    /// Restores the initial state: history regenerated from the seed, nonces, counters, faults, log, run-time truth.
    public func reset() {
        // The options were valid at init, so regeneration cannot fail; keep the old state if it somehow does.
        guard let rebuilt = try? Self.buildAccounts(options: options, endSeconds: endSeconds, timeZone: timeZone) else { return }
        accounts = rebuilt
        keyIndex = [:]
        for (i, a) in accounts.enumerated() { keyIndex[a.key.apiKey] = i }
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

    // MARK: Truth

    /// The ground-truth document (see the README / `kraken-simulator --help`).
    public func truthDocument() -> JSONValue {
        let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        return .object([
            ("generator", .string("kraken-simulator")), ("seed", .number(String(options.seed))), ("clean", .bool(options.clean)),
            ("history_start", .string(TimeFormat.iso(ticks: (endSeconds - Int64(options.days) * 86_400) * 10_000))),
            ("history_end", .string(TimeFormat.iso(ticks: endSeconds * 10_000))),
            ("timezone", .string(options.timeZone)),
            (
                "business_hours",
                .object([
                    ("start", .string(TimeFormat.hhmm(options.businessStartMinute))),
                    ("end", .string(TimeFormat.hhmm(options.businessEndMinute))),
                    ("weekdays", .array(options.businessWeekdays.sorted().map { .string(weekdayNames[$0 - 1]) })),
                ])
            ),
            ("accounts", .array(accounts.map { $0.builder.profileTruth.json })),
            ("anomalies", .array(anomalies.map(\.json))),
            (
                "armed",
                .array(armed.filter { $0.served < $0.plan.count }.map { a in
                    .object([
                        ("account", .string(a.plan.account)), ("error", .string(a.plan.error)), ("rule", .string(a.plan.rule.rawValue)),
                        ("after_successful_calls", .number(String(a.plan.afterCalls))), ("count", .number(String(a.plan.count))),
                        ("served", .number(String(a.served))),
                    ])
                })
            ),
        ])
    }

    /// Writes the truth document to ``SimulatorOptions/truthFile`` (if set).
    public func writeTruthFile() {
        guard let path = options.truthFile else { return }
        do {
            try Data((truthDocument().jsonText + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.error("could not write the truth file", metadata: ["path": "\(path)", "error": "\(error)"])
        }
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
        let envelope: JSONValue
        if isPrivate {
            envelope = privateCall(method: method, request: request, nonce: &nonce)
        } else {
            envelope = publicCall(method: method, request: request)
        }
        var status = 200
        var contentType = "application/json; charset=utf-8"
        var body = Array(envelope.jsonText.utf8)
        var errors = envelope["error"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var reset = false
        if let binary = binaryAnswer {
            // A successful RetrieveExport: the zip itself, not an envelope (../shared/kraken-export-api.md §3).
            binaryAnswer = nil
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

    // MARK: Faults

    private func eligible(_ rule: FaultRule, method: String) -> Bool { rule.methods?.contains(method) ?? true }

    /// Whether a rule of `kind` fires for this request (count rules first consume their count).
    func drawFault(_ kind: FaultKind, method: String) -> Bool {
        for i in faults.indices where faults[i].kind == kind && eligible(faults[i], method: method) {
            if fire(at: i) { return true }
        }
        return false
    }

    private func fire(at i: Int) -> Bool {
        if let c = faults[i].count {
            if c <= 1 { faults.remove(at: i) } else { faults[i].count = c - 1 }
            return true
        }
        return faultRNG.chance(faults[i].rate)
    }

    func drawResponseFault(method: String) -> FaultKind? {
        for i in faults.indices where faults[i].kind.replacesResponse && eligible(faults[i], method: method) {
            let kind = faults[i].kind
            if fire(at: i) { return kind }
        }
        return nil
    }

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

    // MARK: Private calls

    /// Parses the body by Content-Type: JSON members or form fields, as strings.
    static func parseBody(_ request: SimHTTPRequest) -> Params? {
        let contentType = request.headers["content-type"]?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") {
            guard let value = try? JSONValue.parse(request.body), let members = value.objectMembers else { return nil }
            return Params(values: members.map { k, v in
                switch v {
                case .string(let s): (k, s)
                case .number(let n): (k, n)
                case .bool(let b): (k, b ? "true" : "false")
                case .array(let a): (k, a.map { $0.stringValue ?? $0.jsonText }.joined(separator: ","))
                default: (k, v.jsonText)
                }
            })
        }
        guard let text = String(validating: request.body, as: UTF8.self), let pairs = FormEncoding.decode(text) else { return nil }
        return Params(values: pairs)
    }

    private func noteFailure(_ presentedKey: String, now: Double) {
        var l = lockouts[presentedKey] ?? LockoutState()
        l.failures += 1
        if l.failures >= options.lockoutThreshold { l.lockedUntil = now + options.lockoutSeconds }
        lockouts[presentedKey] = l
    }

    func privateCall(method: String, request: SimHTTPRequest, nonce: inout UInt64?) -> JSONValue {
        guard PrivateMethods.implemented.contains(method) || PrivateMethods.known[method] != nil else {
            return errorEnvelope(["EGeneral:Unknown method"])
        }
        guard request.method == "POST" else { return errorEnvelope(["EGeneral:Unknown method"]) }
        let presented = request.headers["api-key"] ?? ""
        let now = monotonicNow()
        if var l = lockouts[presented], let until = l.lockedUntil {
            if now < until {
                if options.lockoutExtends { l.lockedUntil = now + options.lockoutSeconds; lockouts[presented] = l }
                if let i = keyIndex[presented] {
                    accounts[i].key.decay(now: now, perSecond: decayPerSecond)
                    accounts[i].key.calls += 1
                    accounts[i].key.charge(options.costs[method] ?? options.defaultCost)
                }
                return errorEnvelope(["EGeneral:Temporary lockout"])
            }
            lockouts[presented] = LockoutState()
        }
        guard let index = keyIndex[presented] else {
            noteFailure(presented, now: now)
            return errorEnvelope(["EAPI:Invalid key"])
        }
        let a = accounts[index]
        let cost = options.costs[method] ?? options.defaultCost
        a.key.decay(now: now, perSecond: decayPerSecond)
        a.key.calls += 1
        a.key.highestNonceBefore = a.key.highestNonce
        a.key.lastUsedBefore = a.key.lastUsed
        a.key.lastUsed = nowTicks() / 10_000
        func fail(_ error: String, lockoutStreak: Bool) -> JSONValue {
            a.key.charge(cost)
            if lockoutStreak { noteFailure(presented, now: now) }
            return errorEnvelope([error])
        }
        guard let params = Self.parseBody(request) else { return fail("EAPI:Bad request", lockoutStreak: false) }
        guard let nonceText = params["nonce"], nonceText.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(nonceText) else {
            return fail("EAPI:Invalid nonce", lockoutStreak: true)
        }
        nonce = n
        let expected = a.key.signer.sign(path: request.path, nonce: n, body: request.body)
        guard let given = request.headers["api-sign"], Self.constantTimeEqual(expected, given) else {
            return fail("EAPI:Invalid signature", lockoutStreak: true)
        }
        if let i = activeInjection(for: a), armed[i].plan.rule == .nonceErrors {
            serveInjection(i, method: method)
            return fail(armed[i].plan.error, lockoutStreak: true)
        }
        guard a.key.accept(nonce: n) else { return fail("EAPI:Invalid nonce", lockoutStreak: true) }
        if let otp = a.key.otp {
            guard let sent = params["otp"] else { return fail("EGeneral:Permission denied", lockoutStreak: false) }
            guard sent == otp else { return fail("EAPI:Invalid signature", lockoutStreak: true) }
        }
        if let i = activeInjection(for: a) {
            serveInjection(i, method: method)
            return fail(armed[i].plan.error, lockoutStreak: false)
        }
        guard PrivateMethods.rule(for: method, strict: options.strictPermissions).allows(a.key.permissions) else {
            return fail("EGeneral:Permission denied", lockoutStreak: false)
        }
        if a.key.counter + cost > maxCounter {
            a.key.rateLimited += 1
            return fail("EAPI:Rate limit exceeded", lockoutStreak: false)
        }
        a.key.charge(cost)
        lockouts[presented] = nil
        let result = dispatch(method: method, params: params, account: a)
        if result["error"]?.arrayValue?.isEmpty ?? false { a.key.successfulCalls += 1 }
        return result
    }

    private func dispatch(method: String, params: Params, account a: SimAccount) -> JSONValue {
        let e = PrivateEndpoints(account: a, withoutCountOmitsCount: options.withoutCountOmitsCount)
        do {
            switch method {
            case "Ledgers": return resultEnvelope(try e.ledgers(params))
            case "QueryLedgers": return resultEnvelope(try e.queryLedgers(params))
            case "TradesHistory": return resultEnvelope(try e.tradesHistory(params))
            case "QueryTrades": return resultEnvelope(try e.queryTrades(params))
            case "ClosedOrders": return resultEnvelope(try e.closedOrders(params))
            case "QueryOrders": return resultEnvelope(try e.queryOrders(params, permissions: a.key.permissions))
            case "OpenOrders": return resultEnvelope(try e.openOrders(params))
            case "WithdrawStatus": return resultEnvelope(try e.fundingStatus(params, withdrawals: true))
            case "DepositStatus": return resultEnvelope(try e.fundingStatus(params, withdrawals: false))
            case "Balance": return resultEnvelope(e.balance())
            case "BalanceEx": return resultEnvelope(e.balanceEx())
            case "GetApiKeyInfo": return resultEnvelope(apiKeyInfo(a))
            case "AddExport": return resultEnvelope(try addExport(params, account: a))
            case "ExportStatus": return resultEnvelope(try exportStatus(params, account: a))
            case "RemoveExport": return resultEnvelope(try removeExport(params, account: a))
            case "RetrieveExport":
                binaryAnswer = try retrieveExport(params, account: a)
                return resultEnvelope(.null)
            default: return errorEnvelope(["EAPI:Feature disabled"])
            }
        } catch {
            return errorEnvelope([error.message])
        }
    }

    func apiKeyInfo(_ a: SimAccount) -> JSONValue {
        var r = SeededRandom(seed: options.seed, stream: "iban/\(a.name)")
        let chars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let iban = "AA\(r.int(10...99)) " + (0..<3).map { _ in String((0..<4).map { _ in chars[r.int(0..<chars.count)] }) }.joined(separator: " ")
        let k = a.key
        let (nonce, lastUsed) = k.keyInfoExcludesCurrent ? (k.highestNonceBefore, k.lastUsedBefore) : (k.highestNonce, k.lastUsed)
        return .object([
            ("apiKeyName", .string("\(a.name)-audit")), ("apiKey", .string(k.apiKey)),
            ("nonce", .string(String(nonce))), ("nonceWindow", .number(String(k.nonceWindow))),
            ("permissions", .array(k.permissions.map(JSONValue.string))), ("iban", .string(iban)),
            ("validUntil", .string(String(k.validUntil))), ("queryFrom", .string(String(k.queryFrom))), ("queryTo", .string(String(k.queryTo))),
            ("createdTime", .string(String(k.createdTime))), ("modifiedTime", .string(String(k.modifiedTime ?? k.createdTime + 195))),
            ("ipAllowlist", .array(k.ipAllowlist.map(JSONValue.string))), ("lastUsed", lastUsed.map { .string(String($0)) } ?? .null),
        ])
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    // MARK: Injections

    private func activeInjection(for a: SimAccount) -> Int? {
        armed.indices.first { i in
            armed[i].plan.account == a.name && armed[i].served < armed[i].plan.count && a.key.successfulCalls >= armed[i].plan.afterCalls
        }
    }

    private func serveInjection(_ i: Int, method: String) {
        armed[i].served += 1
        armed[i].methods.append(method)
        let plan = armed[i].plan
        guard let a = accounts.first(where: { $0.name == plan.account }) else { return }
        let now = nowTicks()
        let first: Int64 = armed[i].truthIndex.map { runtimeTruth[$0].timeTicks } ?? now
        let details: JSONValue = .object([
            ("error", .string(plan.error)), ("count", .number(String(armed[i].served))),
            ("methods", .array(armed[i].methods.map(JSONValue.string))),
            ("first_time", .string(TimeFormat.iso(ticks: first))), ("last_time", .string(TimeFormat.iso(ticks: now))),
            (
                "reason",
                .string(plan.rule == .nonceErrors
                    ? "another client used the same API key with higher nonces: calls were rejected with EAPI:Invalid nonce"
                    : "a burst of \(plan.error) answers to this key's calls")
            ),
        ])
        let n = runtimeTruth.filter { $0.kind == plan.kind && $0.account == plan.account }.count + (armed[i].truthIndex == nil ? 1 : 0)
        let anomaly = PlantedAnomaly(
            id: "\(plan.account)-\(plan.kind)-\(n)", kind: plan.kind, rule: plan.rule, account: plan.account,
            entityType: "api_key", entityID: KrakenCredentials.fingerprint(of: a.key.apiKey), timeTicks: first, details: details)
        if let t = armed[i].truthIndex {
            runtimeTruth[t] = PlantedAnomaly(
                id: runtimeTruth[t].id, kind: anomaly.kind, rule: anomaly.rule, account: anomaly.account,
                entityType: anomaly.entityType, entityID: anomaly.entityID, timeTicks: first, details: details)
        } else {
            armed[i].truthIndex = runtimeTruth.count
            runtimeTruth.append(anomaly)
        }
        writeTruthFile()
    }
}
