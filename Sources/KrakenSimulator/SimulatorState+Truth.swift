import AuditKernel
import Foundation
import KrakenAPI

/// Ground truth: planted anomalies (history, start and run-time injections) and the truth document.
extension SimulatorState {
    /// Every planted anomaly so far (history and fired run-time injections).
    public var anomalies: [PlantedAnomaly] { accounts.flatMap(\.builder.truth) + runtimeTruth }

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

    /// Arms an error injection for the next `count` private calls of `account` (recorded in the truth when served).
    public func inject(account: String, error: String, count: Int) throws(SimulatorError) {
        let a = try find(account)
        guard count > 0, error.hasPrefix("E") else { throw .invalidOption("inject needs an E... error string and count > 0") }
        armed.append(
            Armed(
                plan: InjectionPlan(account: account, error: error, afterCalls: a.key.successfulCalls, count: count), served: 0,
                truthIndex: nil, methods: []))
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
            throw .invalidOption(
                "unknown or time-bound anomaly kind '\(kind)'; kinds: \(PlantKind.allCases.filter { $0 != .dstSpringTrade && $0 != .dstAutumnTrade }.map(\.rawValue).joined(separator: ", ")), nonce_errors, permission_denied_burst"
            )
        }
        let before = a.builder.truth.count
        let startLedger = a.builder.history.ledger.count
        let now = max(nowTicks(), a.builder.lastTime + 1)
        let day = SimDay(midnight: now, open: now, close: now + 36_000_000, business: true, offset: 0)
        a.builder.plant(plant, time: now, day: day)
        if plant == .ledgerGap {
            // Drop a staking reward now and book the next one so the gap is visible immediately.
            if a.builder.balances[Catalogue.dotStaked] == 0 {
                a.builder.appendLedger(
                    time: now, type: .transfer, subtype: .stakingFromSpot, asset: Catalogue.dotStaked, amount: 10_000_000_000, fee: 0,
                    refKind: .misc, refValue: a.builder.nextMisc)
                a.builder.nextMisc += 1
            }
            a.builder.plantStakingReward(time: now + 1)
            a.builder.plantStakingReward(time: now + 2)
        }
        a.historyChanged(fromLedgerIndex: startLedger)
        writeTruthFile()
        return Array(a.builder.truth[before...])
    }

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
                .array(
                    armed.filter { $0.served < $0.plan.count }.map { a in
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

    // MARK: Injections

    func activeInjection(for a: SimAccount) -> Int? {
        armed.indices.first { i in
            armed[i].plan.account == a.name && armed[i].served < armed[i].plan.count && a.key.successfulCalls >= armed[i].plan.afterCalls
        }
    }

    func serveInjection(_ i: Int, method: String) {
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
                .string(
                    plan.rule == .nonceErrors
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
