import Analyser
import AuditConfig
import AuditStore
import Foundation
import Testing

/// Every rule with a true-positive fixture and a near miss that must not fire (like Sigma/Elastic rule tests).
@Suite("Rules")
struct RuleTests {
    // MARK: unexpected_withdrawal

    static let withdrawalConfig = """
        [rules.unexpected_withdrawal]
        allowlist = { XETH = ["0x9f2c11ab9f2c11ab9f2c11ab9f2c11ab9f2c11ab"], XXBT = ["bc1qa35ls3egf0872h3w"] }
        max_amount = { XXBT = "2.5" }
        velocity_24h = { XXBT = "3" }
        """

    /// Five earlier 1 XETH withdrawals to the cold wallet, so XETH is not "new".
    func withdrawalHistory(_ f: Fixture) throws {
        var balance = 100
        for i in 1...5 {
            balance -= 1
            let refid = "FTQcuak-hist\(i)-XETH"
            let time = "2026-02-0\(i)T10:00:00Z"
            try f.ledger(
                Fixture.krakenId("L", 100 + i), refid: refid, time: time, type: "withdrawal", asset: "XETH",
                amount: "-1.0000000000", fee: "0.0000000000", balance: "\(balance).0000000000")
            try f.withdrawal(
                refid, asset: "XETH", amount: "1.0000000000", time: time, address: "0x9f2c11ab9f2c11ab9f2c11ab9f2c11ab9f2c11ab",
                key: "cold-wallet")
        }
    }

    @Test func unexpectedWithdrawalToAddressNotInAllowlist() throws {
        let f = try Fixture("uw_tp")
        try withdrawalHistory(f)
        // 03:12 in Berlin on 2026-03-29 is 01:12 UTC (still CET until 02:00 local... the change happens at 01:00 UTC).
        try f.ledger(
            "LK3RTP-WXZ2Q-ABCDEF", refid: "FTQcuak-V6Za8qrPnhsTx47yYLz8Tg", time: "2026-03-29T01:12:00Z",
            type: "withdrawal", asset: "XETH", amount: "-35.0000000000", fee: "0.0035000000", balance: "59.9965000000")
        try f.withdrawal(
            "FTQcuak-V6Za8qrPnhsTx47yYLz8Tg", asset: "XETH", amount: "35.0000000000", time: "2026-03-29T01:12:00Z",
            address: "0xdeadbeef00112233", key: "new-wallet")
        try f.analyse(["unexpected_withdrawal"], config: Self.withdrawalConfig)
        let found = try f.findings("unexpected_withdrawal")
        // The first of the earlier withdrawals is reported as "first withdrawal of XETH" at low severity.
        #expect(found.filter { $0.severity >= .medium }.count == 1)
        #expect(found.filter { $0.severity < .medium }.map(\.entityId) == ["FTQcuak-hist1-XETH"])
        let w = try #require(found.first { $0.severity >= .medium })
        #expect(w.severity == .high)
        #expect(w.entityId == "FTQcuak-V6Za8qrPnhsTx47yYLz8Tg")
        #expect(w.title.hasPrefix("Withdrawal of 35 XETH to new-wallet (0xdeadbeef00112233)"))
        #expect(w.title.contains("not in the allowlist"))
        #expect(w.title.contains("2026-03-29 03:12 Europe/Berlin"))
        // 35 is 35x the median of the five earlier 1 XETH withdrawals: a second reason.
        #expect(w.title.contains("35.0x the median"))
        #expect(w.evidenceObject["amount"] as? String == "35.0000000000")
        #expect((w.evidenceObject["reasons"] as? [String])?.count == 2)
    }

    @Test func allowlistedWithdrawalOfUsualSizeDoesNotFire() throws {
        let f = try Fixture("uw_nm")
        try withdrawalHistory(f)
        try f.ledger(
            "LK3RTP-WXZ2Q-NEARMS", refid: "FTQcuak-nearmiss", time: "2026-03-29T01:12:00Z", type: "withdrawal",
            asset: "XETH", amount: "-1.2000000000", fee: "0.0035000000", balance: "93.7965000000")
        try f.withdrawal(
            "FTQcuak-nearmiss", asset: "XETH", amount: "1.2000000000", time: "2026-03-29T01:12:00Z",
            address: "0x9f2c11ab9f2c11ab9f2c11ab9f2c11ab9f2c11ab", key: "cold-wallet")
        // Exactly at the XXBT limit (2.5 is not above 2.5), to an allowlisted address: no reason either.
        try f.withdrawal(
            "FTQcuak-xbt-at-limit", asset: "XXBT", amount: "2.5000000000", time: "2026-03-10T09:00:00Z",
            address: "bc1qa35ls3egf0872h3w", key: nil)
        try f.analyse(["unexpected_withdrawal"], config: Self.withdrawalConfig + "\nnew_asset_severity = \"off\"\n")
        #expect(try f.findings("unexpected_withdrawal").isEmpty)
    }

    @Test func withdrawalAboveLimitAndVelocity() throws {
        let f = try Fixture("uw_lim")
        try f.withdrawal(
            "FTQcuak-xbt-1", asset: "XXBT", amount: "2.6000000000", time: "2026-03-10T09:00:00Z",
            address: "bc1qa35ls3egf0872h3w", key: nil)
        try f.withdrawal(
            "FTQcuak-xbt-2", asset: "XXBT", amount: "0.5000000000", time: "2026-03-10T20:00:00Z",
            address: "bc1qa35ls3egf0872h3w", key: nil)
        // 25 h later: outside the 24 h window of the first.
        try f.withdrawal(
            "FTQcuak-xbt-3", asset: "XXBT", amount: "0.4000000000", time: "2026-03-11T21:00:00Z",
            address: "bc1qa35ls3egf0872h3w", key: nil)
        try f.analyse(["unexpected_withdrawal"], config: Self.withdrawalConfig)
        let byId = Dictionary(uniqueKeysWithValues: try f.findings("unexpected_withdrawal").map { ($0.entityId ?? "", $0) })
        #expect(byId["FTQcuak-xbt-1"]?.title.contains("above the 2.5 XXBT limit") == true)
        #expect(byId["FTQcuak-xbt-1"]?.severity == .high)
        #expect(byId["FTQcuak-xbt-2"]?.title.contains("24 h total 3.1 XXBT above the 3 XXBT limit") == true)
        #expect(byId["FTQcuak-xbt-3"] == nil)
    }

    // MARK: nonce_errors

    @Test func nonceErrorsInOneWindowFire() throws {
        let f = try Fixture("nonce_tp")
        try f.apiCall(at: "2026-05-04T09:58:00Z", nonce: 1_777_888_000_000)
        var ids: [Int64] = []
        for (i, minute) in ["10:01", "10:03", "10:07", "10:20"].enumerated() {
            ids.append(
                try f.apiCall(
                    endpoint: "TradesHistory", at: "2026-05-04T\(minute):00Z", errors: ["EAPI:Invalid nonce"],
                    nonce: 1_777_888_100_000 + Int64(i)))
        }
        try f.analyse(["nonce_errors"])
        let found = try f.findings("nonce_errors")
        #expect(found.count == 1)
        let n = try #require(found.first)
        #expect(n.severity == .high)
        #expect(n.apiCallIds == ids)
        #expect(n.title.hasPrefix("4 EAPI:Invalid nonce errors on key"))
        #expect(n.evidenceObject["last_accepted_nonce_before"] as? String == "1777888000000")
        #expect((n.evidenceObject["calls"] as? [Any])?.count == 4)
    }

    @Test func isolatedNonceErrorsAndOtherErrorsDoNotFire() throws {
        let f = try Fixture("nonce_nm")
        // Isolated errors: one in an hour, one in the next (10 minutes later), one the next day: never two in
        // one window. (Two in one window is what a call and its retry both rejected look like: that fires.)
        try f.apiCall(at: "2026-05-04T10:55:00Z", errors: ["EAPI:Invalid nonce"])
        try f.apiCall(at: "2026-05-04T11:05:00Z", errors: ["EAPI:Invalid nonce"])
        try f.apiCall(at: "2026-05-05T11:05:00Z", errors: ["EAPI:Invalid nonce"])
        // Rate-limit errors are not nonce errors.
        for m in 10...14 { try f.apiCall(at: "2026-05-04T12:\(m):00Z", errors: ["EAPI:Rate limit exceeded"]) }
        try f.analyse(["nonce_errors"])
        #expect(try f.findings("nonce_errors").isEmpty)
    }

    // MARK: off_hours_trading

    @Test func ordersOnWeekendsAndHolidaysFire() throws {
        let f = try Fixture("oh_tp")
        // Saturday 2026-06-06 10:00 CEST.
        try f.order("OQCLML-BW3P3-BUCMWZ", opentm: "2026-06-06T08:00:00Z", vol: "0.0200000000")
        // Friday 2026-12-25 (configured holiday) 10:00 CET.
        try f.order("OQCLML-XMAS1-BUCMWZ", opentm: "2026-12-25T09:00:00Z", vol: "0.0200000000")
        try f.analyse(["off_hours_trading"], config: "[rules.off_hours_trading]\nholidays = [\"2026-12-25\"]\n")
        let found = try f.findings("off_hours_trading").sorted { $0.entityId ?? "" < $1.entityId ?? "" }
        #expect(found.map(\.entityId) == ["OQCLML-BW3P3-BUCMWZ", "OQCLML-XMAS1-BUCMWZ"])
        #expect(found[0].title.contains("on a Saturday"))
        #expect(found[0].title.contains("Sat 2026-06-06 10:00 Europe/Berlin"))
        #expect(found[1].title.contains("on a holiday"))
        #expect(found.allSatisfy { $0.severity == .medium })
    }

    @Test func orderPlacedInHoursThatFillsAtNightDoesNotFire() throws {
        let f = try Fixture("oh_nm")
        // Placed Monday 2026-06-08 17:59 CEST, filled at 23:30 CEST: placement counts.
        try f.order(
            "OQCLML-NIGHT-FILLED", opentm: "2026-06-08T15:59:00Z", closetm: "2026-06-08T21:30:00Z", vol: "0.0200000000",
            trades: ["THVRQM-33VKH-UCI7BS"])
        try f.trade("THVRQM-33VKH-UCI7BS", order: "OQCLML-NIGHT-FILLED", time: "2026-06-08T21:30:00Z", vol: "0.0200000000")
        // 25 Dec is only a holiday when configured: here it is not.
        try f.order("OQCLML-XMAS1-BUCMWZ", opentm: "2026-12-25T09:00:00Z", vol: "0.0200000000")
        try f.analyse(["off_hours_trading"])
        #expect(try f.findings("off_hours_trading").isEmpty)
    }

    // MARK: api_error_burst

    @Test func burstOfInvalidKeyErrorsFires() throws {
        let f = try Fixture("burst_tp")
        for m in [2, 4, 9, 15, 31] {
            try f.apiCall(endpoint: "Balance", at: String(format: "2026-07-01T03:%02d:00Z", m), errors: ["EAPI:Invalid key"])
        }
        try f.analyse(["api_error_burst"])
        let found = try f.findings("api_error_burst")
        #expect(found.count == 1)
        #expect(found.first?.severity == .high)
        #expect(found.first?.apiCallIds.count == 5)
        #expect(found.first?.title.hasPrefix("5 authentication errors on key") == true)
        #expect((found.first?.evidenceObject["by_error"] as? [String: Any])?["EAPI:Invalid key"] as? Int == 5)
    }

    @Test func errorsWithinBaselineOrOfOtherKindsDoNotFire() throws {
        let f = try Fixture("burst_nm")
        // A key that always sees ~3 rate-limit errors an hour: 4 in an hour is not 3x its baseline.
        for day in 1...7 {
            for hour in stride(from: 0, to: 24, by: 1) {
                for m in [5, 25, 45] {
                    try f.apiCall(at: String(format: "2026-07-%02dT%02d:%02d:00Z", day, hour, m), errors: ["EAPI:Rate limit exceeded"])
                }
            }
        }
        for m in [1, 2, 3, 4] { try f.apiCall(at: "2026-07-08T10:0\(m):00Z", errors: ["EAPI:Rate limit exceeded"]) }
        // Server-side errors are not authentication or rate-limit errors.
        for m in 10...19 { try f.apiCall(at: "2026-07-08T11:\(m):00Z", errors: ["EGeneral:Internal error"]) }
        try f.analyse(["api_error_burst"], since: Fixture.t("2026-07-08T00:00:00Z"))
        #expect(try f.findings("api_error_burst").isEmpty)
    }

    // MARK: ledger_gap

    @Test func missingLedgerEntryBreaksTheBalance() throws {
        let f = try Fixture("gap_tp")
        try f.ledger(
            "L4UESK-KG3EQ-UFO4T5", refid: "QCCXXXX-DEP-1", time: "2026-04-01T10:00:00Z", type: "deposit", asset: "ZUSD",
            amount: "1000.0000000000", balance: "1000.0000000000")
        try f.ledger(
            "L4UESK-KG3EQ-UFO4T6", refid: "THVRQM-33VKH-UCI7BS", time: "2026-04-02T10:00:00Z", type: "trade", asset: "ZUSD",
            amount: "-600.2000000000", fee: "0.9603000000", balance: "398.8397000000")
        // A -100 entry is missing here.
        try f.ledger(
            "L4UESK-KG3EQ-UFO4T7", refid: "THVRQM-33VKH-UCI7BC", time: "2026-04-03T10:00:00Z", type: "trade", asset: "ZUSD",
            amount: "-50.0000000000", fee: "0.0800000000", balance: "248.7597000000")
        try f.analyse(["ledger_gap"])
        let found = try f.findings("ledger_gap")
        #expect(found.count == 1)
        let g = try #require(found.first)
        #expect(g.entityId == "L4UESK-KG3EQ-UFO4T7")
        #expect(g.severity == .high)
        #expect(g.evidenceObject["expected_balance"] as? String == "348.7597000000")
        #expect(g.evidenceObject["difference"] as? String == "-100.0000000000")
        #expect(g.title.contains("expected 348.7597 after L4UESK-KG3EQ-UFO4T6, recorded 248.7597 (difference -100 ZUSD)"))
    }

    @Test func sameInstantEntriesInAnyOrderDoNotBreak() throws {
        let f = try Fixture("gap_nm")
        try f.ledger(
            "LAAAAA-AAAAA-AAAAAA", refid: "QCCXXXX-DEP-1", time: "2026-04-01T10:00:00Z", type: "deposit", asset: "XXBT",
            amount: "1.0000000000", balance: "1.0000000000")
        // Two trades in the same instant whose ledger ids sort opposite to their booking order.
        try f.ledger(
            "LZZZZZ-ZZZZZ-ZZZZZZ", refid: "THVRQM-AAAAA-UCI7BS", time: "2026-04-02T10:00:00.1234Z", type: "trade",
            asset: "XXBT", amount: "-0.2000000000", balance: "0.8000000000")
        try f.ledger(
            "LBBBBB-BBBBB-BBBBBB", refid: "THVRQM-BBBBB-UCI7BS", time: "2026-04-02T10:00:00.1234Z", type: "trade",
            asset: "XXBT", amount: "-0.3000000000", balance: "0.5000000000")
        try f.ledger(
            "LCCCCC-CCCCC-CCCCCC", refid: "THVRQM-CCCCC-UCI7BS", time: "2026-04-03T10:00:00Z", type: "trade",
            asset: "XXBT", amount: "0.0200000000", fee: "0.0000100000", balance: "0.5199900000")
        // Another asset's chain is independent.
        try f.ledger(
            "LDDDDD-DDDDD-DDDDDD", refid: "THVRQM-CCCCC-UCI7BS", time: "2026-04-03T10:00:00Z", type: "trade",
            asset: "ZUSD", amount: "-600.2000000000", fee: "0.9603000000", balance: "52131.9529000000")
        try f.analyse(["ledger_gap"])
        #expect(try f.findings("ledger_gap").isEmpty)
    }

    // MARK: trade_size_outlier

    func tradeHistory(_ f: Fixture, count: Int) throws {
        for i in 0..<count {
            let vol = String(format: "0.0%d%d00000000", 1 + i % 3, i % 10)  // 0.010..0.039
            try f.trade(
                Fixture.krakenId("T", i), order: Fixture.krakenId("O", i),
                time: String(format: "2026-05-%02dT%02d:15:00Z", 1 + i / 8, 8 + i % 8), vol: vol)
        }
    }

    @Test func tradeFarAboveThePairsHistoryFires() throws {
        let f = try Fixture("size_tp")
        try tradeHistory(f, count: 40)
        try f.trade("THVRQM-BIGGG-UCI7BS", order: "OQCLML-BIGGG-BUCMWZ", time: "2026-05-20T10:00:00Z", vol: "2.5000000000")
        try f.analyse(["trade_size_outlier"])
        let found = try f.findings("trade_size_outlier")
        #expect(found.map(\.entityId) == ["THVRQM-BIGGG-UCI7BS"])
        #expect(found.first?.severity == .medium)
        #expect(found.first?.title.contains("buy 2.5 XXBTZUSD is") == true)
        #expect(found.first?.evidenceObject["baseline_trades"] as? Int == 40)
    }

    @Test func shortHistoryOrModerateSizeDoesNotFire() throws {
        let f = try Fixture("size_nm")
        try tradeHistory(f, count: 20)  // below min_history = 30
        try f.trade("THVRQM-BIGGG-UCI7BS", time: "2026-05-20T10:00:00Z", vol: "2.5000000000")
        let g = try Fixture("size_nm2")
        try tradeHistory(g, count: 40)
        try g.trade("THVRQM-MODST-UCI7BS", time: "2026-05-20T10:00:00Z", vol: "0.0600000000")  // 2-3x: usual spread
        try f.analyse(["trade_size_outlier"])
        try g.analyse(["trade_size_outlier"])
        #expect(try f.findings("trade_size_outlier").isEmpty)
        #expect(try g.findings("trade_size_outlier").isEmpty)
    }

    // MARK: new_pair_or_asset

    @Test func firstTradeInAPairAndFirstAssetMovementFire() throws {
        let f = try Fixture("new_tp")
        try f.ledger(
            "LAAAAA-AAAAA-AAAAAA", refid: "QCCXXXX-DEP-1", time: "2026-01-05T10:00:00Z", type: "deposit", asset: "ZUSD",
            amount: "10000.0000000000", balance: "10000.0000000000")
        try f.trade("THVRQM-FIRST-UCI7BS", time: "2026-01-06T10:00:00Z", vol: "0.0200000000")
        try f.trade("THVRQM-ETHUS-UCI7BS", pair: "XETHZUSD", time: "2026-02-10T10:00:00Z", vol: "1.0000000000")
        try f.ledger(
            "LBBBBB-BBBBB-BBBBBB", refid: "QCCXXXX-DEP-2", time: "2026-02-11T10:00:00Z", type: "deposit", asset: "DOT",
            amount: "150.0000000000", balance: "150.0000000000")
        try f.analyse(["new_pair_or_asset"])
        let keys = Set(try f.findings("new_pair_or_asset").map(\.dedupeKey))
        #expect(keys == ["new_pair_or_asset:\(f.accountId):pair:XETHZUSD", "new_pair_or_asset:\(f.accountId):asset:DOT"])
        #expect(try f.findings("new_pair_or_asset").allSatisfy { $0.severity == .low })
    }

    @Test func firstWeekOfHistoryRepeatedPairsAndKFEEDoNotFire() throws {
        let f = try Fixture("new_nm")
        try f.ledger(
            "LAAAAA-AAAAA-AAAAAA", refid: "QCCXXXX-DEP-1", time: "2026-01-05T10:00:00Z", type: "deposit", asset: "ZUSD",
            amount: "10000.0000000000", balance: "10000.0000000000")
        try f.trade("THVRQM-FIRST-UCI7BS", time: "2026-01-06T10:00:00Z", vol: "0.0200000000")  // within 7 days
        try f.trade("THVRQM-AGAIN-UCI7BS", time: "2026-03-06T10:00:00Z", vol: "0.0200000000")  // not the first
        try f.ledger(
            "LKFEEE-KFEEE-KFEEEE", refid: "THVRQM-AGAIN-UCI7BS", time: "2026-03-06T10:00:00Z", type: "trade",
            asset: "KFEE", amount: "0.0000000000", fee: "96.0300000000", balance: "903.9700000000")
        try f.analyse(["new_pair_or_asset"])
        #expect(try f.findings("new_pair_or_asset").isEmpty)
    }

    // MARK: stale_collection

    @Test func staleAndFailedCollectionsFire() throws {
        let f = try Fixture("stale_tp")
        try f.collectorRun(status: "success", started: "2026-11-20T02:00:00Z", finished: "2026-11-20T02:10:00Z")
        let failed = try f.collectorRun(
            status: "failed", started: "2026-11-21T02:00:00Z", finished: "2026-11-21T02:01:00Z",
            error: "EAPI:Invalid key")
        try f.analyse(["stale_collection"], now: Fixture.t("2026-11-23T08:00:00Z"))
        let found = try f.findings("stale_collection").sorted { $0.severity > $1.severity }
        #expect(found.count == 2)
        #expect(found[0].severity == .high)
        #expect(found[0].title.contains("for 77 h (last success 2026-11-20 03:10 Europe/Berlin"))
        #expect(found[1].severity == .medium)
        #expect(found[1].entityId == "main")
        #expect(found[1].dedupeKey == "stale_collection:\(f.accountId):failed:EAPI:Invalid key")
        #expect((found[1].evidenceObject["run_ids"] as? [Int])?.map(Int64.init) == [failed])
        #expect(found[1].title.contains("EAPI:Invalid key"))
    }

    @Test func recentSuccessDoesNotFire() throws {
        let f = try Fixture("stale_nm")
        try f.collectorRun(status: "success", started: "2026-11-23T02:00:00Z", finished: "2026-11-23T02:10:00Z")
        // The analyser's own runs are not collections.
        try f.collectorRun(command: "analyse", status: "failed", started: "2026-11-23T03:00:00Z", finished: "2026-11-23T03:00:01Z")
        try f.analyse(["stale_collection"], now: Fixture.t("2026-11-23T08:00:00Z"))
        #expect(try f.findings("stale_collection").isEmpty)
    }

    // MARK: key_rotation_due

    @Test func oldKeyInUseFires() throws {
        let f = try Fixture("key_tp")
        try f.apiKey(created: "2026-01-15", firstSeen: "2026-01-20T10:00:00Z", lastUsed: "2026-11-25T02:00:00Z")
        try f.analyse(["key_rotation_due"], now: Fixture.t("2026-11-26T08:00:00Z"))
        let found = try f.findings("key_rotation_due")
        #expect(found.count == 1)
        #expect(found.first?.severity == .medium)
        #expect(
            found.first?.title == "API key main (sha256:0123456789abcdef) is 315 days old, rotation due after 90 days (created 2026-01-15)")
    }

    @Test func youngKeyOrRetiredKeyDoesNotFire() throws {
        let f = try Fixture("key_nm")
        try f.apiKey(created: "2026-10-01", firstSeen: "2026-10-01T10:00:00Z", lastUsed: "2026-11-25T02:00:00Z")
        try f.apiKey(
            fingerprint: "sha256:fedcba9876543210", created: "2025-01-01", firstSeen: "2025-01-01T10:00:00Z",
            lastUsed: "2026-09-30T02:00:00Z")  // replaced: not used for two months
        try f.analyse(["key_rotation_due"], now: Fixture.t("2026-11-26T08:00:00Z"))
        #expect(try f.findings("key_rotation_due").isEmpty)
    }
}
