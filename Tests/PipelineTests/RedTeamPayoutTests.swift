import Analyser
import AuditStore
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

/// Issue 15, red team (payouts): the account taker withdraws in ways meant to stay under the rules' thresholds:
/// a payout split below `max_amount`, an asset the account never withdrew, a withdrawal at 07:59 on the morning
/// the clocks change. End to end (simulator -> collector -> analyser -> findings) on two seeds; each test asserts
/// the rule that must still fire and a near miss that must stay silent.
@Suite struct RedTeamPayoutTests {
    typealias W = RedTeamWithdrawalTests

    /// The operator's `[rules.unexpected_withdrawal]` with extra lines (limits an operator sets for the account).
    static func withWithdrawalLimits(_ p: Pipeline, _ lines: String) throws -> Pipeline {
        try p.reconfigured { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("allowlist = ") ? line + "\n" + lines : String(line)
            }.joined(separator: "\n")
        }
    }

    static func reasons(_ f: Finding) -> [String] { f.evidence("reasons") as? [String] ?? [] }

    /// Moves Kraken's clock on (whole seconds: each payout in its own second).
    static func advance(_ p: Pipeline, seconds: Double) async {
        await p.sim.state.setClockOffset(p.sim.state.clockOffsetSeconds + seconds)
    }

    /// The operator's limits, set after the first night from the account's own XXBT payouts: `max_amount` just
    /// above the largest (at least 0.02 XXBT), `velocity_24h` 2.5 times it, `max_count_24h` the default 3.
    /// Returns the pipeline with them and the payout the account taker chooses: the largest normal one, just under
    /// `max_amount`.
    static func operatorLimits(_ base: Pipeline) throws -> (p: Pipeline, payout: Decimal, velocity: Decimal) {
        let largest = try base.db.query(
            "SELECT coalesce(trim_scale(max(-amount)), 0.02)::text FROM audit.ledger_entries WHERE type = 'withdrawal' AND asset = 'XXBT'"
        ).rows[0].decode(0, as: String.self)
        let payout = max(try #require(Decimal(string: largest)), Decimal(string: "0.02")!)
        let maximum = payout + Decimal(string: "0.0001")!
        let velocity = payout * Decimal(string: "2.5")!
        let p = try withWithdrawalLimits(
            base,
            """
            max_amount = { XXBT = "\(maximum)" }
            velocity_24h = { XXBT = "\(velocity)" }
            """)
        return (p, payout, velocity)
    }

    /// Five payouts each just under `max_amount` to the allowlisted cold wallet within ten minutes: the 24 h total
    /// passes the velocity limit from the third (high), the count limit (3) from the fourth (medium).
    @Test(arguments: PipelineTests.seeds) func payoutSplitBelowMaxAmount(seed: UInt64) async throws {
        try await W.withPipeline(seed: seed) { base in
            _ = try await W.coldStorage(base)
            try await W.night(base)
            let (p, payout, velocity) = try Self.operatorLimits(base)
            var refids: [String] = []
            for _ in 1...5 {
                let answer = try await W.control(
                    p, "_sim/address-book/withdraw",
                    ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "\(payout)"])
                refids.append(try #require(answer["refid"] as? String))
                await Self.advance(p, seconds: 120)
            }
            try await W.night(p)

            let findings = try p.findings().filter { $0.ruleId == "unexpected_withdrawal" }
            func finding(_ k: Int) -> Finding? { findings.first { $0.entityId == refids[k] } }
            // None of them is above the per-withdrawal limit: that is the evasion.
            #expect(!findings.contains { Self.reasons($0).contains { $0.hasPrefix("above the") } }, "\(findings.map(\.line))")
            for k in 0..<2 {
                #expect((finding(k)?.severity ?? .info) < .medium, "payout \(k + 1): \(finding(k)?.line ?? "-")")
            }
            for k in 2..<5 {
                let f = try #require(finding(k), "payout \(k + 1) not reported: \(findings.map(\.line))")
                #expect(f.severity == .high)
                let total = payout * Decimal(k + 1)
                #expect(Self.reasons(f).contains("24 h total \(total) XXBT above the \(velocity) XXBT limit"), "\(Self.reasons(f))")
                #expect(
                    Self.reasons(f).contains { $0 == "\(k + 1) withdrawals of XXBT within 24 h (limit 3)" } == (k >= 3),
                    "\(Self.reasons(f))")
            }
        }
    }

    /// Near miss: the same payouts a day and an hour apart stay under both limits: no finding at medium or above.
    @Test(arguments: PipelineTests.seeds) func nearMissPayoutsADayApartStaySilent(seed: UInt64) async throws {
        try await W.withPipeline(seed: seed) { base in
            try await W.night(base)
            let (p, payout, _) = try Self.operatorLimits(base)
            for _ in 1...4 {
                try await W.control(
                    p, "_sim/address-book/withdraw",
                    ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "\(payout)"])
                await Self.advance(p, seconds: 25 * 3600)
            }
            try await W.night(p)
            let loud = try p.findings().filter { W.withdrawalRules.contains($0.ruleId) && $0.severity >= .medium }
            #expect(loud.isEmpty, "\(loud.map(\.line))")
        }
    }

    /// The first withdrawal of an asset the account never withdrew (USDT), to the address the operator allowlisted
    /// for another asset (the ERC-20 token goes to the same 0x address as the account's ether): the allowlist is
    /// per asset, so it is reported (high), naming it as the first withdrawal of USDT. Near miss: the owner's
    /// usual ether payout to that address.
    @Test(arguments: PipelineTests.seeds) func firstWithdrawalOfANewAsset(seed: UInt64) async throws {
        try await W.withPipeline(seed: seed) { p in
            let truth = await p.sim.truthDocument
            let ethEntries = truth["accounts"]?.arrayValue?.first?["normal_withdrawal_addresses"]?["XETH"]?.arrayValue ?? []
            let eth = try #require(ethEntries.first?["address"]?.stringValue)
            let ethName = try #require(ethEntries.first?["key"]?.stringValue)
            #expect(p.configText.contains("\"\(eth)\""))
            try await W.night(p)
            #expect(try p.findings().filter { W.withdrawalRules.contains($0.ruleId) && $0.severity >= .medium }.isEmpty)

            let usual = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XETH", "name": ethName, "amount": "0.05"])
            let usualRefid = try #require(usual["refid"] as? String)
            await Self.advance(p, seconds: 10)
            try await W.control(p, "_sim/address-book", ["account": "acct1", "asset": "USDT", "name": ethName, "address": eth])
            let attack = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "USDT", "name": ethName, "amount": "500"])
            let refid = try #require(attack["refid"] as? String)
            try await W.night(p)

            let findings = try p.findings()
            let f = try #require(findings.first { $0.ruleId == "unexpected_withdrawal" && $0.entityId == refid }, "\(findings.map(\.line))")
            #expect(f.severity == .high)
            #expect(Self.reasons(f).contains("destination not in the allowlist"), "\(Self.reasons(f))")
            #expect(Self.reasons(f).contains("first withdrawal of USDT"), "\(Self.reasons(f))")
            // The payouts happen at the wall clock's time of day: whether that is inside business hours is
            // off_hours_trading's question (its own tests pin the clock); here the destination is judged.
            let usualLoud = findings.filter { $0.entityId == usualRefid && $0.severity >= .medium && $0.ruleId != "off_hours_trading" }
            #expect(usualLoud.isEmpty, "\(usualLoud.map(\.line))")
        }
    }

    /// Sundays of 2026 on which Europe/Berlin changes its clocks (the simulator's default zone).
    static let dstMornings = ["2026-03-29", "2026-10-25"]

    /// A withdrawal and an order at 07:59 local time on the morning the clocks change (spring: 07:59 CEST is 06:59
    /// by the night's CET offset; autumn: 07:59 CET is 08:59 by the night's CEST offset, inside business hours for a
    /// rule that applies the day's first offset). The operator's business runs every day 08:00-20:00.
    /// - the order is off-hours: `off_hours_trading` (medium); the same at 08:01 (near miss) is not;
    /// - the taker's withdrawal is off-hours too: `off_hours_trading` judges withdrawals by the same hours
    ///   (medium), and `unexpected_withdrawal` reports it for its destination (high), whatever the minute;
    /// - the owner's 08:01 payout to the allowlisted cold wallet is silent.
    @Test(arguments: PipelineTests.seeds, dstMornings) func withdrawalAt0759OnADSTChangeMorning(seed: UInt64, day: String) async throws {
        let parts = day.split(separator: "-").compactMap { Int($0) }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = try #require(TimeZone(identifier: "UTC"))
        let midnightUTC = try #require(utc.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])))
        // The history ends at that Sunday's 00:00 UTC; the red team acts that morning.
        try await Pipeline.with(
            seed: seed, clean: true, scale: 200, days: 30, accounts: 1, endSeconds: Int64(midnightUTC.timeIntervalSince1970)
        ) { base in
            let p = try base.reconfigured { text in
                text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                    line.hasPrefix("business_days = ") ? "business_days = \"Mon-Sun\"" : String(line)
                }.joined(separator: "\n")
            }
            #expect(p.configText.contains("business_hours = \"08:00-20:00\""))
            let truth = await p.sim.truthDocument
            var local = Calendar(identifier: .gregorian)
            local.timeZone = try #require(TimeZone(identifier: truth["timezone"]?.stringValue ?? ""))
            func at(_ hour: Int, _ minute: Int) throws -> Date {
                try #require(local.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2], hour: hour, minute: minute)))
            }
            func setClock(_ date: Date) async {
                await p.sim.state.setClockOffset(date.timeIntervalSince1970 - Date().timeIntervalSince1970)
            }
            // The offset changed at 02:00/03:00 that night.
            #expect(local.timeZone.secondsFromGMT(for: try at(1, 0)) != local.timeZone.secondsFromGMT(for: try at(7, 59)))
            let cold = try await W.coldStorage(p)

            // The first night before the morning's deposits (booked up to an hour before each payout).
            await setClock(try at(6, 30))
            try await W.night(p)
            await setClock(try at(7, 59))
            let takerOrder = try await RedTeamKeyTests().control(p, "_sim/order", #"{"account": "acct1"}"#)
            try await W.control(p, "_sim/address-book", ["account": "acct1", "asset": "XXBT", "name": "btc-payout", "address": W.attacker])
            let taker = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-payout", "amount": "0.02"])
            await setClock(try at(8, 1))
            let ownerOrder = try await RedTeamKeyTests().control(p, "_sim/order", #"{"account": "acct1"}"#)
            let owner = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.02"])
            #expect(owner["address"] as? String == cold)
            #expect(takerOrder["local_opentm"]?.stringValue?.contains("\(day) 07:5") == true, "\(takerOrder.jsonText)")
            #expect(ownerOrder["local_opentm"]?.stringValue?.contains("\(day) 08:0") == true, "\(ownerOrder.jsonText)")
            await setClock(try at(8, 3))
            try await W.night(p)

            let findings = try p.findings()
            let takerOrderID = try #require(takerOrder["ordertxid"]?.stringValue)
            let ownerOrderIDs = [ownerOrder["ordertxid"]?.stringValue, ownerOrder["trade_txid"]?.stringValue].compactMap { $0 }
            let offHours = findings.filter { $0.ruleId == "off_hours_trading" }
            let flagged = try #require(offHours.first { $0.entityId == takerOrderID }, "\(findings.map(\.line))")
            #expect(flagged.severity == .medium)
            #expect(!offHours.contains { ownerOrderIDs.contains($0.entityId ?? "") }, "\(offHours.map(\.line))")
            let takerRefid = try #require(taker["refid"] as? String)
            let ownerRefid = try #require(owner["refid"] as? String)
            let withdrawal = try #require(
                findings.first { $0.ruleId == "unexpected_withdrawal" && $0.entityId == takerRefid }, "\(findings.map(\.line))")
            #expect(withdrawal.severity == .high)
            #expect(withdrawal.title.contains("\(day) 07:59"), "\(withdrawal.title)")
            let offHoursPayout = try #require(offHours.first { $0.entityId == takerRefid }, "\(offHours.map(\.line))")
            #expect(offHoursPayout.severity == .medium)
            #expect(offHoursPayout.title.contains("before 08:00"), "\(offHoursPayout.title)")
            #expect(!offHours.contains { $0.entityId == ownerRefid }, "\(offHours.map(\.line))")
            let ownerLoud = findings.filter { $0.entityId == ownerRefid && $0.severity >= .medium }
            #expect(ownerLoud.isEmpty, "\(ownerLoud.map(\.line))")
        }
    }
}
