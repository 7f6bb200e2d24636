import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import TestSupport
import Testing

/// Issue 20 end to end: simulator (REST + WebSocket v2) → `kraken-audit watch` → PostgreSQL → rules on arrival →
/// alert hook; then the nightly `run` confirms the streamed rows without duplicating them or alerting again.
/// Each fault of the stream (drop, stall, duplicated messages, expired tokens, maintenance) has its test; after
/// each, what is stored equals the simulator's truth.
@Suite struct WatchEndToEndTests {
    /// The finding of `refid` in any alert payload so far.
    static func alerted(_ h: WatchHarness, rule: String, entity: String) throws -> [JSONValue] {
        try h.alerts().flatMap { $0["findings"]?.arrayValue ?? [] }.filter {
            $0["rule_id"]?.stringValue == rule && $0["entity_id"]?.stringValue == entity
        }
    }

    @Test func aPlantedWithdrawalReachesTheHookAndTheNightlyRunNeitherDuplicatesNorRealerts() async throws {
        try await WatchHarness.with { h in
            var refid = ""
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                // A withdrawal about 13 times the largest before it, booked now on Kraken.
                let planted = try await h.sim.state.plantNow(account: h.account, kind: "withdrawal_amount_outlier")
                refid = try #require(planted.first?.entityID)
                try await h.waitUntil("the hook received the unexpected_withdrawal finding of \(refid)", watch: watch) {
                    try !Self.alerted(h, rule: "unexpected_withdrawal", entity: refid).isEmpty
                }
                // Stored from the stream (before any REST call could have brought it), its destination fetched.
                let id = try h.accountId()
                #expect(
                    try h.count(
                        "SELECT count(*) FROM audit.ledger_entry_versions WHERE account_id = $1 AND refid = $2 AND source = 'ws'",
                        [id, refid]) == 1)
                #expect(try h.count("SELECT count(*) FROM audit.withdrawals WHERE account_id = $1 AND refid = $2", [id, refid]) == 1)
                try await h.expectStoredEqualsTruth(watch: watch)
            }
            let finding = try #require(try Self.alerted(h, rule: "unexpected_withdrawal", entity: refid).first)
            let deliveries = try h.alerts().count

            // The nightly run, some hours later: REST confirms the streamed entry (a new version, source api),
            // nothing is duplicated, and the finding is not announced again.
            await h.sim.state.setClockOffset(await h.sim.state.clockOffsetSeconds + 3600)
            let (code, out) = try await h.run(["run"])
            #expect([0, 4].contains(code), "\(out)")
            let id = try h.accountId()
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1 AND refid = $2", [id, refid]) == 1)
            #expect(
                try h.count(
                    "SELECT count(*) FROM audit.ledger_entries WHERE account_id = $1 AND refid = $2 AND source = 'api'", [id, refid]) == 1)
            #expect(try h.count("SELECT count(*) FROM audit.source_mismatches WHERE account_id = $1", [id]) == 0)
            #expect(
                try h.count("SELECT count(*) FROM audit.findings WHERE rule_id = 'unexpected_withdrawal' AND entity_id = $1", [refid]) == 1)
            let announced = try h.alerts().flatMap { $0["findings"]?.arrayValue ?? [] }.filter { $0["id"] == finding["id"] }
            let newDeliveries = try h.alerts().count - deliveries
            #expect(announced.count == 1, "the nightly run alerted the streamed finding again (\(newDeliveries) new deliveries)")
            #expect(try await h.storedVersusTruth().isEmpty)
            // The chains still verify with the streamed versions in them.
            let (verify, verifyOut) = try await h.run(["verify"])
            #expect(verify == 0, "\(verifyOut)")
        }
    }

    /// A withdrawal to a new address arrives right after the deposit that funded it, so an analysis started by
    /// the deposit is often still running when the withdrawal is stored: the alert must still name the destination
    /// (the withdrawal waits for that analysis, then gets its `WithdrawStatus` before any rule judges it).
    @Test func everyStreamedWithdrawalIsJudgedWithItsDestination() async throws {
        try await WatchHarness.with(extraConfig: WatchKillTests.everyWithdrawalIsAFinding) { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                for _ in 0..<6 {
                    let refid = try #require(
                        try await h.sim.state.plantNow(account: h.account, kind: "withdrawal_unknown_address").first?.entityID)
                    try await h.waitUntil("the hook received the unexpected_withdrawal finding of \(refid)", watch: watch) {
                        try !Self.alerted(h, rule: "unexpected_withdrawal", entity: refid).isEmpty
                    }
                    let address = try h.db.query(
                        "SELECT info FROM audit.withdrawals WHERE refid = $1", [refid]
                    ).rows.first?.decodeOptional(0, as: String.self)
                    let finding = try #require(try Self.alerted(h, rule: "unexpected_withdrawal", entity: refid).first)
                    #expect(address != nil, "WithdrawStatus was not stored for \(refid)")
                    #expect(
                        finding["evidence"]?["address"]?.stringValue == address,
                        "alerted without its destination: \(finding["title"]?.stringValue ?? "")")
                }
            }
        }
    }

    @Test func aDroppedConnectionReconnectsWithAFreshTokenAndFillsTheGapFromREST() async throws {
        try await WatchHarness.with { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                let tokensBefore = try await Self.tokenCalls(h)
                _ = try await h.sim.state.webSocketDrop(account: h.account)
                // Booked while no connection exists: only REST can bring these.
                _ = try await h.sim.state.addActivity(account: h.account, trades: 2)
                try await h.waitForLiveConnection(after: 1, watch: watch)
                try await h.expectStoredEqualsTruth(watch: watch)
                #expect(try await Self.tokenCalls(h) > tokensBefore, "no fresh token for the new connection")
                #expect(try h.count("SELECT count(*) FROM audit.watch_connections WHERE closed_at IS NOT NULL") >= 1)
                // And the new connection streams.
                _ = try await h.sim.state.addActivity(account: h.account, trades: 1)
                try await h.expectStoredEqualsTruth(watch: watch)
            }
        }
    }

    @Test func aStalledStreamIsPingedThenReplacedAndNothingIsLost() async throws {
        try await WatchHarness.with { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                _ = try await h.sim.state.webSocketStall(account: h.account)
                _ = try await h.sim.state.addActivity(account: h.account, trades: 2)  // never sent on the stalled stream
                try await h.waitForLiveConnection(after: 1, watch: watch)
                try await h.expectStoredEqualsTruth(watch: watch)
                let reasons = try h.db.query("SELECT coalesce(close_reason, '') FROM audit.watch_connections ORDER BY id").rows.map {
                    try $0.decode(0, as: String.self)
                }
                #expect(reasons.first?.contains("no message from Kraken") == true, "\(reasons)")
            }
        }
    }

    @Test func duplicatedMessagesAreStoredOnce() async throws {
        try await WatchHarness.with { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                try await h.sim.state.webSocketDuplicate(account: h.account, count: 6)
                _ = try await h.sim.state.addActivity(account: h.account, trades: 3)
                try await h.expectStoredEqualsTruth(watch: watch)
                try await h.waitUntil("the duplicates are counted", watch: watch) {
                    try h.count("SELECT coalesce(sum(duplicates), 0)::int FROM audit.watch_connections") > 0
                }
                let id = try h.accountId()
                #expect(try h.count("SELECT count(*) FROM audit.ledger_entry_versions WHERE account_id = $1 AND source = 'ws'", [id]) == 6)
            }
        }
    }

    @Test func expiredTokensAreReplacedOnReconnect() async throws {
        try await WatchHarness.with { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                // Kraken revokes every token issued so far and the next two it hands out (as after an upgrade),
                // then drops the connection: two subscriptions are refused with ESession:Invalid session.
                _ = try await h.sim.state.webSocketExpireTokens(account: h.account, next: 2)
                _ = try await h.sim.state.webSocketDrop(account: h.account)
                _ = try await h.sim.state.addActivity(account: h.account, trades: 1)
                try await h.waitForLiveConnection(after: 1, watch: watch)
                _ = try await h.sim.state.addActivity(account: h.account, trades: 1)
                try await h.expectStoredEqualsTruth(watch: watch)
                let refused = try h.count("SELECT count(*) FROM audit.watch_connections WHERE close_reason LIKE '%Invalid session%'")
                #expect(refused == 2, "connections refused for their token: \(refused)")
            }
        }
    }

    @Test func executionsStoreFillsAndOrderStatesAsTheyHappen() async throws {
        try await WatchHarness.with { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                let placed = try await h.sim.state.marketOrderNow(account: h.account, pair: nil, side: nil)
                let order = try #require(placed["ordertxid"]?.stringValue)
                let trade = try #require(placed["trade_txid"]?.stringValue)
                try await h.waitUntil("the order is stored closed from the stream", watch: watch) {
                    try h.count("SELECT count(*) FROM audit.orders WHERE txid = $1 AND status = 'closed'", [order]) == 1
                }
                #expect(
                    try h.count("SELECT count(*) FROM audit.trades WHERE txid = $1 AND ordertxid = $2 AND source = 'ws'", [trade, order])
                        == 1)
                #expect(try h.count("SELECT count(*) FROM audit.status_history WHERE entity_id = $1", [order]) == 2)  // open, closed
                try await h.expectStoredEqualsTruth(watch: watch)
            }
        }
    }

    @Test func maintenanceIsRecordedAndTheStreamGoesOn() async throws {
        try await WatchHarness.with { h in
            try await h.watching { watch in
                try await h.waitForLiveConnection(watch: watch)
                try await h.sim.state.webSocketSetSystemStatus("maintenance")
                try await h.waitUntil("watch records Kraken's maintenance", watch: watch) {
                    try h.count("SELECT count(*) FROM audit.watch_connections WHERE system_status = 'maintenance'") == 1
                }
                try await h.sim.state.webSocketSetSystemStatus("online")
                _ = try await h.sim.state.addActivity(account: h.account, trades: 1)
                try await h.expectStoredEqualsTruth(watch: watch)
            }
        }
    }

    /// GetWebSocketsToken calls the simulator answered so far.
    static func tokenCalls(_ h: WatchHarness) async throws -> Int {
        await h.sim.state.requestLog(limit: 100_000).filter { $0.path.hasSuffix("/GetWebSocketsToken") }.count
    }
}

/// `kill -9` of `watch` at random moments while Kraken books entries and withdrawals that are findings: after the
/// restarts every entry is stored exactly once and every finding reaches the hook in exactly one delivery (a
/// delivery the hook saw just before a kill may be sent again under the same `delivery_id`, which the hook drops).
@Suite struct WatchKillTests {
    /// Every XXBT and XETH withdrawal is a finding (high), whatever its destination.
    static let everyWithdrawalIsAFinding = """
        [rules.unexpected_withdrawal]
        max_amount = { XXBT = "0", XETH = "0" }
        """

    @Test func killedAtRandomMomentsUnderActivityLosesAndDoublesNothing() async throws {
        try await WatchHarness.with(extraConfig: Self.everyWithdrawalIsAFinding) { h in
            var rng = SystemRandomNumberGenerator()
            var planted: [String] = []
            let activity = Task {
                // Kraken's side goes on regardless of the watcher: a trade or a withdrawal every ~150 ms.
                var refids: [String] = []
                for i in 0..<60 {
                    if Task.isCancelled { break }
                    if i % 4 == 0 {
                        let p = try await h.sim.state.plantNow(account: h.account, kind: "withdrawal_unknown_address")
                        refids += p.map(\.entityID)
                    } else {
                        _ = try await h.sim.state.addActivity(account: h.account, trades: 1)
                    }
                    try await Task.sleep(for: .milliseconds(150))
                }
                return refids
            }
            for round in 0..<4 {
                let watch = try h.startWatch()
                // Sometimes before the first connection is up, sometimes in the middle of a gap fill or an analysis.
                try await Task.sleep(for: .milliseconds(Int64.random(in: 300...2500, using: &rng)))
                watch.signal(SIGKILL)
                _ = await watch.exitOrKill(timeout: 10)
                if round == 3 { break }
            }
            planted = try await activity.value
            #expect(planted.count == 15)
            try await h.watching { watch in
                try await h.waitForLiveConnection(after: try h.gapFilledConnections(), watch: watch)
                try await h.expectStoredEqualsTruth(watch: watch)
                try await h.waitUntil("every planted withdrawal's finding reached the hook", watch: watch) {
                    try planted.allSatisfy { !(try WatchEndToEndTests.alerted(h, rule: "unexpected_withdrawal", entity: $0)).isEmpty }
                }
            }
            for refid in planted {
                let deliveries = try h.alerts().filter { payload in
                    (payload["findings"]?.arrayValue ?? []).contains {
                        $0["rule_id"]?.stringValue == "unexpected_withdrawal" && $0["entity_id"]?.stringValue == refid
                    }
                }
                #expect(deliveries.count == 1, "\(refid) was alerted in \(deliveries.count) deliveries")
            }
            let id = try h.accountId()
            // One finding per planted withdrawal (the history's own withdrawals are findings too under this rule setting).
            let findings = try h.count(
                "SELECT count(*) FROM audit.findings WHERE account_id = $1 AND rule_id = 'unexpected_withdrawal' AND entity_id = ANY($2::text[])",
                [id, "{" + planted.joined(separator: ",") + "}"])
            #expect(findings == 15)
            // The killed processes' connections and gap-fill runs are closed, not left open.
            #expect(try h.count("SELECT count(*) FROM audit.watch_connections WHERE closed_at IS NULL") == 0)
            #expect(try h.count("SELECT count(*) FROM audit.collector_runs WHERE status = 'running'") == 0)
        }
    }
}
