import Analyser
import AuditConfig
import AuditStore
import Foundation
import TestSupport
import Testing

@Suite("Analyser")
struct AnalyserTests {
    static let ts = PGTimestamp.format

    // MARK: clean account and recall

    @Test(arguments: [UInt64(1), UInt64(2)])
    func cleanAccountAcrossBothDSTChangesHasNoMediumFindings(seed: UInt64) throws {
        let f = try Fixture("clean\(seed)")
        let trades = try CleanAccount.generate(into: f, seed: seed)
        #expect(trades > 300)
        let summary = try f.analyse(config: CleanAccount.allowlistConfig, now: CleanAccount.now)
        #expect(summary.failures.isEmpty)
        let loud = try f.findings().filter { $0.severity >= .medium }
        #expect(loud.isEmpty, "clean account produced \(loud.count) findings, e.g. \(loud.prefix(3).map(\.title))")
        #expect(try f.scalar("SELECT count(*) FROM audit.alert_outbox", as: Int.self) == 0)
    }

    @Test func everyPlantedAnomalyIsFoundByItsRule() throws {
        let f = try Fixture("recall")
        try CleanAccount.generate(into: f, seed: 3)
        // 1. withdrawal to an unknown address
        try f.withdrawal(
            "FTQcuak-planted-1", asset: "XXBT", amount: "0.1500000000", time: "2026-11-10T02:12:00Z",
            address: "bc1qattackerxxxxxxxx", key: nil)
        // 2. nonce errors
        for m in 1...4 { try f.apiCall(at: "2026-11-11T02:0\(m):30Z", errors: ["EAPI:Invalid nonce"], nonce: 1_767_600_000_000) }
        // 3. order on a Sunday
        try f.order("OPLANT-SUNDY-ORDERX", opentm: "2026-11-15T10:00:00Z", vol: "0.0300000000")
        // 4. burst of permission errors
        for m in 10...15 { try f.apiCall(at: "2026-11-12T02:\(m):00Z", errors: ["EGeneral:Permission denied"]) }
        // 5. an altered ledger balance
        let altered = try f.scalar(
            "SELECT ledger_id FROM audit.ledger_entries WHERE asset = 'ZUSD' AND time > '2026-11-01' ORDER BY time LIMIT 1 OFFSET 3",
            as: String.self)
        try f.db.execute("UPDATE audit.ledger_entries SET balance = balance + 1 WHERE ledger_id = $1", [altered])
        // 6. a trade 100x the usual size
        try f.trade("TPLANT-HUGEE-TRADEX", time: "2026-11-18T10:00:00Z", vol: "3.0000000000")
        // 7. first trade in a new pair
        try f.trade("TPLANT-NEWPR-TRADEX", pair: "XETHZUSD", time: "2026-11-19T10:00:00Z", vol: "1.0000000000")
        // 8. a failed collection (re-run successfully afterwards: while the latest collection is a failed one, the
        // rules over collected rows wait, see dataRulesWaitForACompleteCollection)
        let run = try f.collectorRun(
            status: "failed", started: "2026-12-18T02:30:00Z", finished: "2026-12-18T02:31:00Z",
            error: "EAPI:Invalid key")
        // The nightly analysis after the failed run reports it (once the re-run succeeded, the failure is resolved).
        try f.analyse(["stale_collection"], now: CleanAccount.now)
        _ = try f.collectorRun(status: "success", started: "2026-12-18T02:40:00Z", finished: "2026-12-18T02:45:00Z")
        // 9. an old key
        try f.apiKey(
            fingerprint: "sha256:00000000000000aa", created: "2025-06-01", firstSeen: "2025-06-01T00:00:00Z",
            lastUsed: "2026-12-18T02:00:00Z")
        try f.analyse(config: CleanAccount.allowlistConfig, now: CleanAccount.now)
        let found = try f.findings()
        func has(_ rule: String, _ entity: String) -> Bool { found.contains { $0.ruleId == rule && $0.entityId == entity } }
        #expect(has("unexpected_withdrawal", "FTQcuak-planted-1"))
        #expect(has("nonce_errors", "sha256:0123456789abcdef"))
        #expect(has("off_hours_trading", "OPLANT-SUNDY-ORDERX"))
        #expect(has("api_error_burst", "sha256:0123456789abcdef"))
        #expect(has("ledger_gap", altered))
        #expect(has("trade_size_outlier", "TPLANT-HUGEE-TRADEX"))
        #expect(found.contains { $0.dedupeKey == "new_pair_or_asset:\(f.accountId):pair:XETHZUSD" })
        #expect(
            found.contains {
                $0.ruleId == "stale_collection" && $0.entityId == "main" && $0.status == .resolved
                    && ($0.evidenceObject["run_ids"] as? [Int])?.map(Int64.init) == [run]
            })
        #expect(has("key_rotation_due", "sha256:00000000000000aa"))
    }

    // MARK: incomplete collections

    /// A collection that fails half-way has stored Kraken's newest pages only: rules over collected rows wait
    /// (their state untouched) until a collection completes; rules over the call log and runs explain the failure.
    @Test func dataRulesWaitForACompleteCollection() throws {
        let f = try Fixture("incomplete")
        try f.ledger(
            "L4UESK-KG3EQ-UFO4T5", refid: "QCCXXXX-DEP-1", time: "2026-04-01T10:00:00Z", type: "deposit", asset: "ZUSD",
            amount: "1000.0000000000", balance: "1000.0000000000")
        // The entries in between are on pages the failed run did not reach.
        try f.ledger(
            "L4UESK-KG3EQ-UFO4T7", refid: "THVRQM-33VKH-UCI7BC", time: "2026-04-03T10:00:00Z", type: "trade", asset: "ZUSD",
            amount: "-50.0000000000", fee: "0.0800000000", balance: "248.7597000000")
        let failed = try f.collectorRun(
            status: "failed", started: "2026-04-04T02:00:00Z", finished: "2026-04-04T02:01:00Z",
            error: "Kraken Ledgers failed: EAPI:Invalid nonce")
        let first = try f.analyse(["ledger_gap", "stale_collection"], now: Fixture.t("2026-04-04T03:00:00Z"))
        #expect(first.deferred.map(\.ruleId) == ["ledger_gap"])
        #expect(first.deferred.first?.deferred?.contains("run \(failed) is failed") == true)
        #expect(try f.findings("ledger_gap").isEmpty)
        #expect(try f.findings("stale_collection").map(\.entityId) == ["main"])
        #expect(
            try f.findings("stale_collection").first?.evidenceObject["latest_run"].flatMap { ($0 as? [String: Any])?["run_id"] as? Int }
                .map(Int64.init) == failed)
        #expect(try f.scalar("SELECT count(*) FROM audit.analysis_state WHERE rule_id = 'ledger_gap'", as: Int.self) == 0)
        // A running collection is not complete either.
        _ = try f.collectorRun(status: "running", started: "2026-04-05T02:00:00Z", finished: nil)
        #expect(try f.analyse(["ledger_gap"], now: Fixture.t("2026-04-05T02:30:00Z")).deferred.count == 1)
        // The next complete collection fetched the missing entry: now the ledger chains and nothing is reported.
        try f.db.execute(
            "UPDATE audit.collector_runs SET status = 'success', finished_at = '2026-04-05T02:10:00Z' WHERE status = 'running'")
        try f.ledger(
            "L4UESK-KG3EQ-UFO4T6", refid: "THVRQM-33VKH-UCI7BS", time: "2026-04-02T10:00:00Z", type: "trade", asset: "ZUSD",
            amount: "-700.2000000000", fee: "0.9603000000", balance: "298.8397000000")
        let second = try f.analyse(["ledger_gap"], now: Fixture.t("2026-04-05T03:00:00Z"))
        #expect(second.deferred.isEmpty)
        #expect(second.results.first?.changedAfter == "-infinity")
        #expect(try f.findings("ledger_gap").isEmpty)
    }

    // MARK: DST

    @Test func offHoursIsJudgedInLocalTimeAcrossDST() throws {
        let f = try Fixture("dst")
        // Monday 2026-03-30, the day after the spring change (CEST = UTC+2).
        try f.trade("TDST01-07300-SPRING", time: "2026-03-30T05:30:00Z", vol: "0.0200000000")  // 07:30 local: off hours
        try f.trade("TDST02-08300-SPRING", time: "2026-03-30T06:30:00Z", vol: "0.0200000000")  // 08:30 local (07:30 in CET)
        try f.trade("TDST03-17300-SPRING", time: "2026-03-30T15:30:00Z", vol: "0.0200000000")  // 17:30 local
        // Friday before the change (CET = UTC+1), 08:30 local.
        try f.trade("TDST04-08300-BEFORE", time: "2026-03-27T07:30:00Z", vol: "0.0200000000")
        // Monday 2026-10-26, the day after the autumn change (CET again): 08:30 and 17:30 local.
        try f.trade("TDST05-08300-AUTUMN", time: "2026-10-26T07:30:00Z", vol: "0.0200000000")
        try f.trade("TDST06-17300-AUTUMN", time: "2026-10-26T16:30:00Z", vol: "0.0200000000")  // 18:30 in CEST
        try f.analyse(["off_hours_trading"])
        let found = try f.findings("off_hours_trading")
        #expect(found.map(\.entityId) == ["TDST01-07300-SPRING"])
        #expect(found.first?.title.contains("before 08:00") == true)
        #expect(found.first?.title.contains("Mon 2026-03-30 07:30 Europe/Berlin") == true)
        #expect(found.first?.evidenceObject["utc_offset"] as? String == "02:00")
    }

    /// Withdrawals are judged by the same hours: 07:59 local on the spring-change Monday is off hours (medium),
    /// 08:01 is not; `withdrawal_severity` sets the level, `"off"` leaves withdrawals to `unexpected_withdrawal`.
    @Test func offHoursWithdrawalsAcrossDST() throws {
        let f = try Fixture("dstwd")
        // Monday 2026-03-30 (CEST = UTC+2): 07:59 and 08:01 local.
        try f.withdrawal(
            "FTDST01-0759-SPRING-MORNING-A", asset: "XXBT", amount: "0.0200000000", time: "2026-03-30T05:59:00Z",
            address: "bc1qdstmorning0759", key: "payout")
        try f.withdrawal(
            "FTDST02-0801-SPRING-MORNING-B", asset: "XXBT", amount: "0.0200000000", time: "2026-03-30T06:01:00Z",
            address: "bc1qdstmorning0759", key: "payout")
        try f.analyse(["off_hours_trading"])
        let found = try f.findings("off_hours_trading")
        #expect(found.map(\.entityId) == ["FTDST01-0759-SPRING-MORNING-A"])
        #expect(found.first?.severity == .medium)
        #expect(found.first?.title.contains("Mon 2026-03-30 07:59 Europe/Berlin") == true, "\(found.map(\.title))")
        #expect(found.first?.title.contains("withdrawal of 0.02 XXBT to payout (bc1qdstmorning0759)") == true, "\(found.map(\.title))")

        let low = try Fixture("dstwdlow")
        try low.withdrawal(
            "FTDST01-0759-SPRING-MORNING-A", asset: "XXBT", amount: "0.0200000000", time: "2026-03-30T05:59:00Z",
            address: "bc1qdstmorning0759", key: "payout")
        try low.analyse(["off_hours_trading"], config: "[rules.off_hours_trading]\nwithdrawal_severity = \"low\"\n")
        #expect(try low.findings("off_hours_trading").map(\.severity) == [.low])
        let off = try Fixture("dstwdoff")
        try off.withdrawal(
            "FTDST01-0759-SPRING-MORNING-A", asset: "XXBT", amount: "0.0200000000", time: "2026-03-30T05:59:00Z",
            address: "bc1qdstmorning0759", key: "payout")
        try off.analyse(["off_hours_trading"], config: "[rules.off_hours_trading]\nwithdrawal_severity = \"off\"\n")
        #expect(try off.findings("off_hours_trading").isEmpty)
    }

    /// A withdrawal is timed by its ledger entry whenever one exists, also when only its WithdrawStatus record
    /// changed since the last analysis: a status change must not make the rule judge the other table's time.
    @Test func offHoursWithdrawalIsTimedByItsLedgerEntryAcrossRuns() throws {
        let f = try Fixture("dstwdsrc")
        let refid = "FTSRC01-LEDGER-TIME-WINS-AAAA"
        // Ledger 08:00:02 local (in hours); WithdrawStatus 07:59:58 local (pending, changes later).
        try f.ledger(
            "LSRC01-LEDGR-TIMEWN", refid: refid, time: "2026-03-30T06:00:02Z", type: "withdrawal", asset: "XXBT",
            amount: "-0.0200000000", balance: "1.0000000000", updatedAt: "2026-03-30T06:05:00Z")  // stored long ago
        try f.withdrawal(
            refid, asset: "XXBT", amount: "0.0200000000", time: "2026-03-30T05:59:58Z", address: "bc1qledgertimewins", key: "payout",
            status: "Pending")
        try f.analyse(["off_hours_trading"])
        #expect(try f.findings("off_hours_trading").isEmpty)
        // Only the WithdrawStatus record changes (Pending → Success).
        try f.db.execute(
            "UPDATE audit.withdrawals SET status = 'Success', updated_at = clock_timestamp() WHERE account_id = $1 AND refid = $2",
            [f.accountId, refid])
        try f.analyse(["off_hours_trading"])
        #expect(try f.findings("off_hours_trading").isEmpty)
    }

    // MARK: dedupe, status, incremental

    func seedAnomalies(_ f: Fixture) throws {
        try f.withdrawal(
            "FTQcuak-V6Za8qrPnhsTx47yYLz8Tg", asset: "XETH", amount: "35.0000000000", time: "2026-03-29T01:12:00Z",
            address: "0xdeadbeef00112233", key: nil)
        try f.withdrawal(
            "FTQcuak-V6Za8qrPnhsTx47yYLz8Th", asset: "XETH", amount: "1.0000000000", time: "2026-03-02T01:12:00Z",
            address: "0xc01dc01dc01dc01dc01dc01dc01dc01dc01dc01d", key: "cold-wallet")
        try f.order("OQCLML-BW3P3-BUCMWZ", opentm: "2026-06-06T08:00:00Z", vol: "0.0200000000")
        try f.trade("THVRQM-33VKH-UCI7BS", time: "2026-06-06T08:00:01Z", vol: "0.0200000000", updatedAt: nil)
        try f.trade("THVRQM-ETHUS-UCI7BS", pair: "XETHZUSD", time: "2026-06-10T10:00:00Z", vol: "1.0000000000")
        try f.collectorRun(status: "success", started: "2026-01-01T02:00:00Z", finished: "2026-01-01T02:05:00Z")
    }

    static let xethAllowlist = "[rules.unexpected_withdrawal]\nallowlist = { XETH = [\"0xC01DC01DC01DC01DC01DC01DC01DC01DC01DC01D\"] }\n"

    @Test func rerunningNeverDuplicatesFindings() throws {
        let f = try Fixture("dedupe")
        try seedAnomalies(f)
        let first = try f.analyse(config: Self.xethAllowlist)
        let before = try f.findings()
        #expect(first.newFindings == before.count)
        #expect(before.count >= 4)
        // Again incrementally (nothing new) and again from scratch (--since): same findings, seen again.
        let second = try f.analyse(config: Self.xethAllowlist)
        #expect(second.newFindings == 0)
        let third = try f.analyse(config: Self.xethAllowlist, since: Fixture.t("2020-01-01T00:00:00Z"))
        #expect(third.newFindings == 0)
        #expect(third.updatedFindings == before.count)
        let after = try f.findings()
        #expect(Set(after.map(\.id)) == Set(before.map(\.id)))
        #expect(try f.scalar("SELECT count(*) FROM audit.findings", as: Int.self) == before.count)
        let w = try #require(after.first { $0.ruleId == "unexpected_withdrawal" && $0.severity == .high })
        let w0 = try #require(before.first { $0.id == w.id })
        #expect(w.firstSeen == w0.firstSeen)
        #expect(w.lastSeen > w0.lastSeen)
        // Three runs detected it: the incremental one re-read rows changed within the overlap (10 min) too.
        #expect(w.detections == 3)
    }

    @Test func suppressedStaysSuppressedAndResolvedReopensOnlyOnNewerEvidence() throws {
        let f = try Fixture("status")
        try seedAnomalies(f)
        try f.analyse(config: Self.xethAllowlist, now: Fixture.t("2026-11-26T08:00:00Z"))
        let found = try f.findings()
        let withdrawal = try #require(found.first { $0.ruleId == "unexpected_withdrawal" && $0.severity == .high })
        let offHours = try #require(found.first { $0.ruleId == "off_hours_trading" && $0.entityId == "OQCLML-BW3P3-BUCMWZ" })
        let stale = try #require(found.first { $0.ruleId == "stale_collection" })
        try FindingStore.setStatus(on: f.db, id: withdrawal.id, to: .suppressed, note: "new cold wallet, approved by CFO", by: "alice")
        try FindingStore.setStatus(on: f.db, id: offHours.id, to: .resolved, note: "trader confirmed", by: "alice")
        try FindingStore.setStatus(on: f.db, id: stale.id, to: .resolved, note: "cron fixed", by: "bob")
        do {
            #expect(throws: AnalyserError.self) {
                try FindingStore.setStatus(on: f.db, id: withdrawal.id, to: .suppressed, note: "again", by: "alice")
            }
            #expect(throws: AnalyserError.self) { try FindingStore.setStatus(on: f.db, id: 999_999, to: .resolved, note: "x", by: "a") }
            #expect(throws: AnalyserError.self) { try FindingStore.setStatus(on: f.db, id: stale.id, to: .open, note: " ", by: "a") }
        }
        let outboxBefore = try f.scalar("SELECT count(*) FROM audit.alert_outbox", as: Int.self)

        // Re-analyse everything: the same old rows and a still-stale collection.
        try f.analyse(config: Self.xethAllowlist, since: Fixture.t("2020-01-01T00:00:00Z"), now: Date())
        let w = try FindingStore.get(on: f.db, id: withdrawal.id)
        #expect(w.status == .suppressed)
        #expect(w.statusNote == "new cold wallet, approved by CFO")
        #expect(w.detections == 2)
        #expect(try FindingStore.get(on: f.db, id: offHours.id).status == .resolved)  // same old order: stays resolved
        let s = try FindingStore.get(on: f.db, id: stale.id)
        #expect(s.status == .open)  // still stale after "cron fixed": reopened
        #expect(s.statusChangedBy == "analyser")
        // The reopened finding is announced again; the suppressed one is not.
        #expect(
            try f.scalar("SELECT count(*) FROM audit.alert_outbox WHERE event = 'new' AND finding_id = $1", [stale.id], as: Int.self) == 2)
        #expect(try f.scalar("SELECT count(*) FROM audit.alert_outbox", as: Int.self) == outboxBefore + 1)
        let history = try FindingStore.history(on: f.db, id: stale.id)
        #expect(history.map(\.new) == ["resolved", "open"])
        #expect(history.map(\.by) == ["bob", "analyser"])
    }

    @Test func secondRunOnlyLooksAtNewRows() throws {
        let f = try Fixture("incr")
        let twoHoursAgo = Self.ts(Date().addingTimeInterval(-7200))
        try f.trade("TOLD01-OFFHR-TRADEX", time: "2026-06-06T08:00:00Z", vol: "0.0200000000", updatedAt: twoHoursAgo)  // Saturday
        try f.trade("TOLD02-INHRS-TRADEX", time: "2026-06-08T08:00:00Z", vol: "0.0200000000", updatedAt: twoHoursAgo)  // Monday 10:00
        let first = try f.analyse(["off_hours_trading"])
        #expect(first.results.first?.changedAfter == "-infinity")
        #expect(try f.findings().map(\.entityId) == ["TOLD01-OFFHR-TRADEX"])
        // Change an old row behind the analyser's back (updated_at not bumped): an incremental run must not read it.
        try f.db.execute("UPDATE audit.trades SET time = '2026-06-07T08:00:00Z' WHERE txid = 'TOLD02-INHRS-TRADEX'")
        try f.trade("TNEW01-OFFHR-TRADEX", time: "2026-06-13T08:00:00Z", vol: "0.0200000000")  // new, Saturday
        let second = try f.analyse(["off_hours_trading"])
        let window = try #require(second.results.first?.changedAfter)
        #expect(window != "-infinity")
        #expect(second.newFindings == 1)
        #expect(second.updatedFindings == 0)  // the old off-hours trade was not re-read
        #expect(Set(try f.findings().map(\.entityId)) == ["TOLD01-OFFHR-TRADEX", "TNEW01-OFFHR-TRADEX"])
        // --since re-reads everything and finds the changed old row.
        let full = try f.analyse(["off_hours_trading"], since: Fixture.t("2026-01-01T00:00:00Z"))
        #expect(full.newFindings == 1)
        // A changed parameter makes the next incremental run start from scratch.
        let retuned = try f.analyse(["off_hours_trading"], config: "[rules.off_hours_trading]\nbusiness_hours = \"07:00-19:00\"\n")
        #expect(retuned.results.first?.changedAfter == "-infinity")
    }

    // MARK: outbox

    @Test func outboxRowsAreWrittenWithTheFindingForMediumAndAbove() throws {
        let f = try Fixture("outbox")
        try seedAnomalies(f)
        try f.analyse(config: Self.xethAllowlist, now: Fixture.t("2026-01-01T12:00:00Z"))
        let found = try f.findings()
        #expect(found.contains { $0.severity == .low })  // new pair XETHZUSD, first XETH withdrawal
        let rows = try f.db.query(
            """
            SELECT f.severity, o.event, o.created_at = f.first_seen AS same_tx, o.delivered_at IS NULL AS pending, o.run_id = f.last_run_id
              FROM audit.alert_outbox o JOIN audit.findings f ON f.id = o.finding_id
            """
        ).rows
        let loud = found.filter { $0.severity >= .medium }.count
        #expect(rows.count == loud)
        for r in rows {
            #expect(try Severity(rawValue: r.decode(0, as: String.self))! >= .medium)
            #expect(try r.decode(1, as: String.self) == "new")
            #expect(try r.decode(2, as: Bool.self))  // now() is the transaction's start: same transaction
            #expect(try r.decode(3, as: Bool.self))
            #expect(try r.decode(4, as: Bool.self))
        }
        // Seen again (even long after): no second `new` row; re-notification is the Alerts module's job.
        try f.db.execute("UPDATE audit.alert_outbox SET created_at = created_at - interval '25 hours'")
        try f.analyse(config: Self.xethAllowlist, since: Fixture.t("2020-01-01T00:00:00Z"), now: Fixture.t("2026-01-01T12:00:00Z"))
        #expect(try f.scalar("SELECT count(*) FROM audit.alert_outbox", as: Int.self) == loud)
    }

    @Test func noOutboxWithoutAlertsConfigured() throws {
        let f = try Fixture("nooutbox")
        try seedAnomalies(f)
        let summary = try f.analyser(rules: Self.xethAllowlist, alerts: false).analyse(on: f.db)
        #expect(summary.newFindings > 0)
        #expect(try f.scalar("SELECT count(*) FROM audit.alert_outbox", as: Int.self) == 0)
    }

    @Test func severityOverrideAndDisabledRules() throws {
        let f = try Fixture("override")
        try seedAnomalies(f)
        let config =
            Self.xethAllowlist
            + "[rules.new_pair_or_asset]\nseverity = \"high\"\nmin_history_days = 0\n[rules.off_hours_trading]\nenabled = false\n"
        let summary = try f.analyse(config: config)
        #expect(!summary.results.contains { $0.ruleId == "off_hours_trading" })
        #expect(try f.findings("new_pair_or_asset").allSatisfy { $0.severity == .high })
        #expect(try f.findings("off_hours_trading").isEmpty)
        #expect(throws: AnalyserError.self) { try f.analyser(rules: config).analyse(on: f.db, rules: ["off_hours_trading"]) }
        #expect(throws: AnalyserError.self) { try f.analyser().analyse(on: f.db, accounts: ["nope"]) }
        #expect(throws: AnalyserError.self) { try f.analyser().analyse(on: f.db, rules: ["nope"]) }
    }

    @Test func aFailingRuleIsRolledBackAloneAndItsWindowRetried() throws {
        let f = try Fixture("brokenrule")
        try f.collectorRun(status: "failed", started: "2026-11-21T02:00:00Z", finished: "2026-11-21T02:01:00Z", error: "boom")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-broken-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = TestDatabase.sqlDirectory.appendingPathComponent("rules")
        try FileManager.default.copyItem(
            at: rules.appendingPathComponent("stale_collection.sql"), to: dir.appendingPathComponent("stale_collection.sql"))
        try Data(
            """
            -- id: boom
            -- title: Always fails
            -- severity: high
            -- entity: account
            -- input: call_log
            -- catches: nothing; divides by zero
            -- false positives: none
            SELECT :'account_id'::integer AS account_id, 'account' AS entity_type, 'x' AS entity_id, 'high' AS severity,
                   'x' AS title, '{}'::jsonb AS evidence, 'boom:' || (1 / (count(*) - count(*)))::text AS dedupe_key,
                   now() AS occurred_at, '{}'::bigint[] AS api_call_ids
              FROM audit.accounts;
            """.utf8
        ).write(to: dir.appendingPathComponent("boom.sql"))
        let config = try Fixture.config()
        let analyser = try Analyser(
            config: config, catalogue: try RuleCatalogue(directory: dir), logger: TestDatabase.logger,
            options: AnalyserOptions(alerts: AlertPolicy(config.alerts)))
        let summary = try analyser.analyse(on: f.db)
        #expect(summary.failures.map(\.ruleId) == ["boom"])
        #expect(summary.failures.first?.failure?.contains("22012") == true)  // division_by_zero
        #expect(try f.findings("stale_collection").count == 1)
        #expect(try f.scalar("SELECT count(*) FROM audit.analysis_state WHERE rule_id = 'boom'", as: Int.self) == 0)
        #expect(try f.scalar("SELECT status FROM audit.collector_runs WHERE id = $1", [summary.runId], as: String.self) == "partial")
        // The connection is still usable and the next run analyses the failed rule from scratch again.
        let again = try analyser.analyse(on: f.db)
        #expect(again.results.first { $0.ruleId == "boom" }?.changedAfter == "-infinity")
        #expect(again.results.first { $0.ruleId == "stale_collection" }?.changedAfter != "-infinity")
    }
}
