import AuditKernel
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

@Suite("Simulated history: determinism, consistency, planted anomalies")
struct HistoryTests {
    static func state(_ configure: (inout SimulatorOptions) -> Void = { _ in }) throws -> SimulatorState {
        try SimulatorState(options: TestSim.options(configure), logger: TestSim.logger)
    }

    static func dec(_ v: JSONValue?) -> Decimal { v.flatMap { Decimal(string: $0.stringValue ?? $0.numberText ?? "") } ?? .nan }

    @Test func sameSeedSameDataOtherSeedOtherData() async throws {
        let a = try Self.state()
        let b = try Self.state()
        let c = try Self.state { $0.seed = 2 }
        #expect(try await a.historyDigest(account: "acct1") == b.historyDigest(account: "acct1"))
        #expect(try await a.historyDigest(account: "acct1") != c.historyDigest(account: "acct1"))
        #expect(try await a.historyDigest(account: "acct1") != a.historyDigest(account: "acct2"))
        #expect(await a.simulatedAccounts == b.simulatedAccounts)
        #expect(await a.simulatedAccounts != c.simulatedAccounts)
        let secret = try #require(Data(base64Encoded: await a.simulatedAccounts[0].secret))
        #expect(secret.count == 64)
    }

    @Test func ledgerBalancesChainExceptAtThePlantedGap() async throws {
        let s = try Self.state { $0.scale = 800 }
        for account in ["acct1", "acct2"] {
            let e = try await s.export(account: account)
            let gapIDs = Set(await s.anomalies.filter { $0.rule == .ledgerGap && $0.account == account }.map(\.entityID))
            #expect(gapIDs.count == 1)
            var last: [String: Decimal] = [:]
            var breaks: [String] = []
            for (id, entry) in e.ledger {
                let asset = entry["asset"]!.stringValue!
                let expected = (last[asset] ?? 0) + Self.dec(entry["amount"]) - Self.dec(entry["fee"])
                if Self.dec(entry["balance"]) != expected { breaks.append(id) }
                last[asset] = Self.dec(entry["balance"])
            }
            #expect(Set(breaks) == gapIDs)
            // Balance equals the last running balance of every asset.
            for (asset, value) in e.balance.objectMembers ?? [] {
                #expect(Self.dec(value) == last[asset], "\(account) \(asset)")
            }
        }
    }

    @Test func tradesOrdersAndLedgerAgree() async throws {
        let s = try Self.state()
        let e = try await s.export(account: "acct1")
        let ledger = Dictionary(uniqueKeysWithValues: e.ledger.map { ($0.id, $0.entry) })
        let orders = Dictionary(uniqueKeysWithValues: e.orders.map { ($0.id, $0.order) })
        for (id, t) in e.trades {
            let legs = t["ledgers"]!.arrayValue!.compactMap { ledger[$0.stringValue!] }
            #expect(legs.count == 2)
            #expect(legs.allSatisfy { $0["refid"]?.stringValue == id && $0["type"]?.stringValue == "trade" && $0["time"] == t["time"] })
            let isBuy = t["type"]?.stringValue == "buy"
            let cost = Self.dec(t["cost"])
            let fee = Self.dec(t["fee"])
            let vol = Self.dec(t["vol"])
            let quote = legs.first { Self.dec($0["fee"]) > 0 || Self.dec($0["amount"]).magnitude == cost }!
            let base = legs.first { $0 != quote }!
            #expect(Self.dec(quote["amount"]) == (isBuy ? -cost : cost))
            #expect(Self.dec(quote["fee"]) == fee)
            #expect(Self.dec(base["amount"]) == (isBuy ? vol : -vol))
            let order = try #require(orders[t["ordertxid"]!.stringValue!])
            #expect(order["trades"]?.arrayValue?.contains(.string(id)) == true)
        }
        for (id, o) in e.orders where o["status"]?.stringValue == "closed" {
            let n = o["trades"]?.arrayValue?.count ?? 0
            #expect(n >= 1, "closed order \(id) has trades")
            #expect(Self.dec(o["vol_exec"]) == Self.dec(o["vol"]))
        }
        let withdrawalLedger = Dictionary(
            grouping: e.ledger.filter { $0.entry["type"]?.stringValue == "withdrawal" }, by: { $0.entry["refid"]!.stringValue! })
        for w in e.withdrawals {
            let entry = try #require(withdrawalLedger[w["refid"]!.stringValue!]?.first?.entry)
            #expect(Self.dec(entry["amount"]) == -Self.dec(w["amount"]) && Self.dec(entry["fee"]) == Self.dec(w["fee"]))
            #expect(w["info"]?.stringValue?.isEmpty == false)
        }
        let ids = e.ledger.map(\.id) + e.trades.map(\.id) + e.orders.map(\.id)
        #expect(ids.allSatisfy { $0.count == 19 && $0.split(separator: "-").map(\.count) == [6, 5, 6] })
        #expect(
            e.ledger.allSatisfy { $0.id.hasPrefix("L") } && e.trades.allSatisfy { $0.id.hasPrefix("T") }
                && e.orders.allSatisfy { $0.id.hasPrefix("O") })
    }

    /// Local (Europe/Berlin) weekday and minute of a Kraken time.
    static func local(_ time: JSONValue?) -> (weekday: Int, minute: Int) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/Berlin")!
        let date = Date(timeIntervalSince1970: (Self.dec(time) as NSDecimalNumber).doubleValue)
        let c = cal.dateComponents([.weekday, .hour, .minute], from: date)
        return (c.weekday!, c.hour! * 60 + c.minute!)
    }

    static func offHours(_ time: JSONValue?) -> Bool {
        let l = local(time)
        return !(2...6).contains(l.weekday) || l.minute < 480 || l.minute >= 1200
    }

    @Test func cleanHistoryHasNoAnomaliesAndStaysInBusinessHours() async throws {
        let s = try Self.state {
            $0.clean = true; $0.injections = nil; $0.days = 240
        }
        #expect(await s.anomalies.isEmpty)
        let doc = await s.truthDocument()
        #expect(doc["anomalies"]?.arrayValue?.isEmpty == true && doc["armed"]?.arrayValue?.isEmpty == true)
        let e = try await s.export(account: "acct1")
        #expect(e.trades.allSatisfy { !Self.offHours($0.trade["time"]) })
        #expect(e.orders.allSatisfy { !Self.offHours($0.order["opentm"]) })
        let normal = Set(
            doc["accounts"]?.arrayValue?.first?["normal_withdrawal_addresses"]?.objectMembers?.flatMap { $0.1.arrayValue ?? [] }.compactMap
            { $0["address"]?.stringValue } ?? [])
        #expect(!normal.isEmpty && e.withdrawals.allSatisfy { normal.contains($0["info"]!.stringValue!) })
        let pairs = Set(e.trades.compactMap { $0.trade["pair"]?.stringValue })
        #expect(pairs == ["XXBTZUSD", "XETHZUSD", "XXBTZEUR", "XETHZEUR", "DOTUSD", "SOLUSD"])
    }

    @Test func plantedAnomaliesAreInTheTruthAndInTheData() async throws {
        // 2026-01-15 .. 2026-11-01: both DST changes of 2026 (29 Mar, 25 Oct) are inside.
        let s = try Self.state {
            $0.days = 290; $0.accounts = 1
        }
        let truth = await s.anomalies
        let kinds = Set(truth.map(\.kind))
        #expect(
            kinds == [
                "ledger_balance_gap", "withdrawal_unknown_address", "withdrawal_amount_outlier", "withdrawal_new_asset",
                "withdrawal_burst", "off_hours_trade", "off_hours_order", "off_hours_trade_dst_spring",
                "off_hours_trade_dst_autumn", "trade_size_outlier", "first_ever_pair", "withdrawal_address_repointed",
            ])
        let e = try await s.export(account: "acct1")
        let trades = Dictionary(uniqueKeysWithValues: e.trades.map { ($0.id, $0.trade) })
        let withdrawals = Dictionary(uniqueKeysWithValues: e.withdrawals.map { ($0["refid"]!.stringValue!, $0) })
        for a in truth {
            switch a.entityType {
            case "trade": #expect(trades[a.entityID] != nil, "\(a.kind)")
            case "withdrawal": #expect(withdrawals[a.entityID] != nil, "\(a.kind)")
            case "order": #expect(e.orders.contains { $0.id == a.entityID })
            case "ledger": #expect(e.ledger.contains { $0.id == a.entityID })
            default: Issue.record("unexpected entity type \(a.entityType)")
            }
        }
        // Off-hours trades are exactly the planted ones.
        let offHourTrades = Set(e.trades.filter { Self.offHours($0.trade["time"]) }.map(\.id))
        let plantedOff = Set(truth.filter { $0.rule == .offHoursTrading && $0.entityType == "trade" }.map(\.entityID))
        #expect(offHourTrades == plantedOff)
        // DST spring: 20:30 local (CEST) the first business day after the change; 19:30 with the winter offset.
        let spring = try #require(truth.first { $0.kind == "off_hours_trade_dst_spring" })
        let st = try #require(trades[spring.entityID])
        #expect(Self.local(st["time"]).minute == 20 * 60 + 30)
        let utcMinute = Int((Self.dec(st["time"]) as NSDecimalNumber).int64Value % 86_400 / 60)
        #expect(utcMinute + 60 == 19 * 60 + 30)
        let autumn = try #require(truth.first { $0.kind == "off_hours_trade_dst_autumn" })
        #expect(Self.local(trades[autumn.entityID]?["time"]).minute == 7 * 60 + 30)
        // The unknown address is not in the normal address book; the outlier is far above normal amounts.
        let doc = await s.truthDocument()
        let normal = Set(
            doc["accounts"]?.arrayValue?.first?["normal_withdrawal_addresses"]?.objectMembers?.flatMap { $0.1.arrayValue ?? [] }.compactMap
            { $0["address"]?.stringValue } ?? [])
        let unknown = try #require(truth.first { $0.kind == "withdrawal_unknown_address" })
        #expect(!normal.contains(withdrawals[unknown.entityID]!["info"]!.stringValue!))
        let outlier = try #require(truth.first { $0.kind == "withdrawal_amount_outlier" })
        let eurNormal = e.withdrawals.filter { $0["asset"]?.stringValue == "ZEUR" && $0["refid"]?.stringValue != outlier.entityID }.map {
            Self.dec($0["amount"])
        }
        #expect(Self.dec(withdrawals[outlier.entityID]?["amount"]) > 10 * (eurNormal.max() ?? 0))
        let first = try #require(truth.first { $0.kind == "first_ever_pair" })
        #expect(trades[first.entityID]?["pair"]?.stringValue == "ADAEUR")
        #expect(e.trades.filter { $0.trade["pair"]?.stringValue == "ADAEUR" }.count == 1)
        let json = a0(truth).json
        for k in ["id", "kind", "rule", "account", "entity_type", "entity_id", "time", "details"] { #expect(json[k] != nil) }
    }

    private func a0(_ t: [PlantedAnomaly]) -> PlantedAnomaly { t[0] }

    @Test func runtimeInjectionsAreRecorded() async throws {
        let sim = try await TestSim.start {
            $0.injections = [InjectionPlan(account: "acct1", error: "EAPI:Invalid nonce", afterCalls: 2, count: 3)]
        }
        let c = try TestSim.client(sim)
        var errors: [[String]] = []
        for _ in 0..<6 { errors.append(await TestSim.errors { try await c.privateCall("Balance") }) }
        #expect(errors == [[], [], ["EAPI:Invalid nonce"], ["EAPI:Invalid nonce"], ["EAPI:Invalid nonce"], []])
        let truth = await sim.truth
        let n = try #require(truth.first { $0.rule == .nonceErrors })
        #expect(n.details["count"]?.numberText == "3" && n.entityType == "api_key")
        #expect(n.entityID == KrakenCredentials.fingerprint(of: sim.accounts[0].apiKey))
        // Planting a permission-denied burst now through the control API.
        _ = try await RawHTTP.control(sim, "/_sim/plant", method: "POST", json: #"{"account":"acct2","kind":"permission_denied_burst"}"#)
        let c2 = try TestSim.client(sim, account: 1)
        for _ in 0..<5 { #expect(await TestSim.errors { try await c2.privateCall("Balance") } == ["EGeneral:Permission denied"]) }
        #expect(await TestSim.errors { try await c2.privateCall("Balance") } == [])
        let served = try await RawHTTP.control(sim, "/_sim/truth/anomalies")
        #expect(
            served.arrayValue?.contains { $0["rule"]?.stringValue == "api_error_burst" && $0["details"]?["count"]?.numberText == "5" }
                == true)
        await sim.stop()
    }

    @Test func plantNowAndTruthFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sim-truth-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sim = try await TestSim.start {
            $0.truthFile = path; $0.clean = true
        }
        let before = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(before["anomalies"]?.arrayValue?.isEmpty == true)
        for kind in ["withdrawal_unknown_address", "trade_size_outlier", "ledger_balance_gap", "first_ever_pair"] {
            let planted = try await sim.state.plantNow(account: "acct1", kind: kind)
            #expect(planted.count == 1 && planted[0].kind == kind)
        }
        let after = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(after["anomalies"]?.arrayValue?.count == 4)
        await sim.stop()
    }

    @Test func scaleKnob() async throws {
        let small = try Self.state {
            $0.scale = 300; $0.accounts = 1
        }
        let big = try Self.state {
            $0.scale = 20_000; $0.accounts = 1
        }
        let n1 = try await small.counts(account: "acct1").ledger
        let n2 = try await big.counts(account: "acct1").ledger
        #expect((200...450).contains(n1))
        #expect((16_000...24_000).contains(n2))
    }
}
