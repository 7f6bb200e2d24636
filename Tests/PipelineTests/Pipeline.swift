import Analyser
import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// The whole pipeline as an operator runs it: the simulator stands in for Kraken, the collector stores its answers
/// in a migrated throw-away database, and the analyser runs every enabled rule over it with a configuration
/// derived from the simulator's ground truth, the way an operator would write it from what they know is normal.
struct Pipeline {
    /// The harness (simulator, throw-away database, connection), its configuration replaced by ``configText``.
    let h: SimulatedCollection
    let configText: String

    var sim: SimulatorServer { h.sim }
    var database: TestDatabase { h.database }
    var db: PGConnection { h.db }
    var config: AuditConfiguration { h.config }
    var logger: Logger { h.logger }

    /// 2026-11-01T00:00:00Z: with 365 days the history crosses the spring (2026-03-29) and autumn (2026-10-25)
    /// changes of Europe/Berlin.
    static let end: Int64 = 1_793_491_200

    /// Runs `body` with the simulator (its default run-time injections unless `clean`), a migrated database and the
    /// operator's configuration (``operatorConfig(truth:sim:databaseURL:)``), inside ``withSimulatedCollection(_:_:)``:
    /// everything is torn down after `body`, awaited, also when it throws.
    static func with(
        seed: UInt64, clean: Bool, scale: Int = 3000, days: Int = 365, accounts: Int = 2, endSeconds: Int64 = Pipeline.end,
        _ body: (Pipeline) async throws -> Void
    ) async throws {
        // A generous counter: the pacing is tested elsewhere, here only the data matters.
        let setup = SimulatedCollection.Setup(
            accounts: accounts, scale: scale, days: days, maxCounter: 10_000, decayPerSecond: 1_000, seed: seed,
            endSeconds: endSeconds, databasePrefix: "pipeline", logLabel: "pipeline-test"
        ) { o in
            o.clean = clean
            o.injections = nil  // the simulator's own: planted run-time anomalies unless clean
        }
        try await withSimulatedCollection(setup) { h in
            let text = operatorConfig(truth: await h.sim.truthDocument, sim: h.sim, databaseURL: h.database.url)
            let config = try ConfigLoader.parse(text, path: "pipeline.toml")
            try await body(Pipeline(h: h.reconfigured(config), configText: text))
        }
    }

    /// The configuration an operator writes for these accounts from the ground truth: time zone and business
    /// hours of the business, the allowlist of the usual withdrawal destinations; every other parameter keeps the
    /// rule's default.
    static func operatorConfig(truth: JSONValue, sim: SimulatorServer, databaseURL: String) -> String {
        let timezone = truth["timezone"]?.stringValue ?? "UTC"
        let hours = truth["business_hours"]
        let start = hours?["start"]?.stringValue ?? "08:00"
        let endTime = hours?["end"]?.stringValue ?? "18:00"
        let weekdays = (hours?["weekdays"]?.arrayValue ?? []).compactMap(\.stringValue)
        var allowlist: [(String, [String])] = []
        for account in truth["accounts"]?.arrayValue ?? [] {
            for (asset, list) in account["normal_withdrawal_addresses"]?.objectMembers ?? [] {
                let addresses = (list.arrayValue ?? []).compactMap { $0["address"]?.stringValue }
                if let i = allowlist.firstIndex(where: { $0.0 == asset }) {
                    allowlist[i].1 += addresses.filter { !allowlist[i].1.contains($0) }
                } else {
                    allowlist.append((asset, addresses))
                }
            }
        }
        func quoted(_ s: String) -> String { "\"" + s + "\"" }
        var toml = """
            [database]
            url = \(quoted(databaseURL))

            [ops]
            timezone = \(quoted(timezone))

            """
        for a in sim.accounts {
            toml += """

                [[account]]
                name = \(quoted(a.name))
                api_key_env = "UNUSED_KEY"
                api_secret_env = "UNUSED_SECRET"
                api_url = \(quoted(sim.baseURL.absoluteString))
                rate_limit = { max = 10000, decay_per_second = 1000 }
                timeout_seconds = 10
                timezone = \(quoted(timezone))

                """
        }
        toml += """

            [rules.unexpected_withdrawal]
            allowlist = { \(allowlist.map { "\($0.0) = [\($0.1.map(quoted).joined(separator: ", "))]" }.joined(separator: ", ")) }

            [rules.off_hours_trading]
            business_hours = \(quoted("\(start)-\(endTime)"))
            business_days = \(quoted(weekdays.joined(separator: ",")))

            """
        return toml
    }

    /// The same pipeline with the operator's configuration text changed by `edit` (e.g. limits an operator sets).
    func reconfigured(_ edit: (String) -> String) throws -> Pipeline {
        let text = edit(configText)
        let config = try ConfigLoader.parse(text, path: "pipeline.toml")
        return Pipeline(h: h.reconfigured(config), configText: text)
    }

    /// The harness's collector, with the operator's configuration.
    func collector() -> Collector { h.collector() }

    func collect() async -> [AccountOutcome] {
        await h.collect(options: CollectOptions(retry: SimulatedCollection.fastRetry))
    }

    static let catalogue: RuleCatalogue = {
        do { return try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules")) } catch {
            preconditionFailure("rule catalogue does not load: \(error)")  // test setup only
        }
    }()

    @discardableResult
    func analyse() throws -> AnalysisSummary {
        let analyser = try Analyser(config: config, catalogue: Self.catalogue, logger: logger)
        let summary = try analyser.analyse(on: db)
        #expect(summary.failures.isEmpty, "\(summary.failures.map { "\($0.ruleId)/\($0.account): \($0.failure ?? "")" })")
        return summary
    }

    func findings() throws -> [Finding] {
        try FindingStore.list(on: db, filter: FindingFilter(statuses: FindingStatus.allCases, limit: 100_000))
    }

    /// Runs still armed in the simulator (injections not yet served).
    func armedLeft() async -> Int {
        await sim.truthDocument["armed"]?.arrayValue?.count ?? 0
    }
}

/// A planted anomaly of the ground truth and the ids a finding may name to cover it.
struct Planted: CustomStringConvertible {
    let id: String
    let kind: String
    let rule: String
    let account: String
    let entityType: String
    let entityId: String
    /// The entity itself, and for a trade its order (the off-hours rule judges the order's placement and lists
    /// the order's trades), for a burst of withdrawals each of them.
    let coveringIds: Set<String>

    init(_ json: JSONValue) {
        id = json["id"]?.stringValue ?? "?"
        kind = json["kind"]?.stringValue ?? "?"
        rule = json["rule"]?.stringValue ?? "?"
        account = json["account"]?.stringValue ?? "?"
        entityType = json["entity_type"]?.stringValue ?? "?"
        entityId = json["entity_id"]?.stringValue ?? "?"
        var ids: Set<String> = [entityId]
        if let o = json["details"]?["ordertxid"]?.stringValue { ids.insert(o) }
        for r in json["details"]?["refids"]?.arrayValue ?? [] { if let s = r.stringValue { ids.insert(s) } }
        coveringIds = ids
    }

    func isCovered(by f: Finding) -> Bool {
        f.ruleId == rule && f.account == account && f.entityId.map(coveringIds.contains) == true
    }

    var description: String { "\(id) (\(rule) on \(entityType) \(entityId))" }
}

extension Finding {
    var line: String { "[\(severity.rawValue)] \(ruleId) \(account ?? "-") \(entityType ?? "-") \(entityId ?? "-"): \(title)" }
}
