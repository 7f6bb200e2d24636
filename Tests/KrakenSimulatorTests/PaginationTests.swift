import AuditKernel
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

@Suite("Simulator pagination (../shared/kraken-api.md §4)")
struct PaginationTests {
    static func times(_ map: JSONValue?) -> [Decimal] {
        (map?.objectMembers ?? []).compactMap { Decimal(string: $0.1["time"]?.numberText ?? "") }
    }

    @Test func firstLastAndBeyondTheLastPage() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let export = try await sim.state.export(account: "acct1")
        let total = export.ledger.count
        #expect(total > 150)
        let first = try await c.privateCall("Ledgers")
        #expect(first.result["count"]?.numberText == String(total))
        #expect(first.result["ledger"]?.membersCount == 50)
        // Newest first, and the first entry is the newest of the whole history.
        let t = Self.times(first.result["ledger"])
        #expect(t == t.sorted(by: >))
        #expect(first.result["ledger"]?.objectMembers?.first?.0 == export.ledger.last?.id)
        // Walk every page with a fixed end (the newest id): the union is the whole ledger, no duplicates.
        let end = try #require(first.result["ledger"]?.objectMembers?.first?.0)
        var seen: [String] = []
        var ofs = 0
        while true {
            let page = try await c.privateCall("Ledgers", parameters: [("end", end), ("ofs", String(ofs))])
            let ids = page.result["ledger"]?.objectMembers?.map(\.0) ?? []
            seen += ids
            if ids.count < 50 { break }
            ofs += 50
        }
        #expect(seen.count == total && Set(seen).count == total)
        #expect(Set(seen) == Set(export.ledger.map(\.id)))
        let beyond = try await c.privateCall("Ledgers", parameters: [("ofs", String(total + 10))])
        #expect(beyond.result["ledger"]?.membersCount == 0 && beyond.result["count"]?.numberText == String(total))
        await sim.stop()
    }

    @Test func emptyRangesAndWithoutCount() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let r = try await c.privateCall("Ledgers", parameters: [("start", "1700000000"), ("end", "1700000000")])
        #expect(r.result["ledger"]?.membersCount == 0 && r.result["count"]?.numberText == "0")
        let future = try await c.privateCall("TradesHistory", parameters: [("start", "4000000000")])
        #expect(future.result["trades"]?.membersCount == 0)
        let without = try await c.privateCall("Ledgers", parameters: [("without_count", "true")])
        #expect(without.result["count"] == nil && without.result["ledger"]?.membersCount == 50)
        #expect(
            await TestSim.errors { try await c.privateCall("Ledgers", parameters: [("start", "LNOTAN-IDXXX-XXXXXX")]) } == [
                "EGeneral:Invalid arguments:start"
            ])
        #expect(
            await TestSim.errors { try await c.privateCall("Ledgers", parameters: [("ofs", "-1")]) } == ["EGeneral:Invalid arguments:ofs"])
        await sim.stop()
    }

    @Test func startExclusiveEndInclusiveByTimeAndByID() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let export = try await sim.state.export(account: "acct1")
        let rows = export.ledger
        let mid = rows[rows.count / 2]
        let midTime = try #require(mid.entry["time"]?.numberText)
        // By id: end = id includes that row first; start = id excludes it.
        let byEnd = try await c.privateCall("Ledgers", parameters: [("end", mid.id)])
        #expect(byEnd.result["ledger"]?.objectMembers?.first?.0 == mid.id)
        #expect(byEnd.result["count"]?.numberText == String(rows.count / 2 + 1))
        let byStart = try await c.privateCall("Ledgers", parameters: [("start", mid.id)])
        #expect(byStart.result["count"]?.numberText == String(rows.count - rows.count / 2 - 1))
        #expect(byStart.result["ledger"]?.objectMembers?.contains { $0.0 == mid.id } == false)
        // By time: start exclusive, end inclusive, exact to the 1e-4 s.
        let byTime = try await c.privateCall("Ledgers", parameters: [("start", midTime), ("end", midTime)])
        #expect(byTime.result["ledger"]?.membersCount == 0)
        let upTo = try await c.privateCall("Ledgers", parameters: [("end", midTime)])
        let sameTime = rows.filter { $0.entry["time"]?.numberText == midTime }.count
        let olderOrSame = rows.filter { Decimal(string: $0.entry["time"]!.numberText!)! <= Decimal(string: midTime)! }.count
        #expect(upTo.result["count"]?.numberText == String(olderOrSame) && sameTime >= 1)
        let whole = try #require(Int64(midTime.split(separator: ".")[0]))
        let window = try await c.privateCall("TradesHistory", parameters: [("start", String(whole - 86_400 * 7)), ("end", String(whole))])
        for t in Self.times(window.result["trades"]) {
            #expect(t > Decimal(whole - 86_400 * 7) && t <= Decimal(whole))
        }
        // Trades by txid.
        let trades = export.trades
        let tmid = trades[trades.count / 2]
        let tEnd = try await c.privateCall("TradesHistory", parameters: [("end", tmid.id)])
        #expect(tEnd.result["trades"]?.objectMembers?.first?.0 == tmid.id)
        await sim.stop()
    }

    @Test func filtersCountWhatMatches() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let export = try await sim.state.export(account: "acct1")
        let withdrawals = export.ledger.filter { $0.entry["type"]?.stringValue == "withdrawal" }.count
        let r = try await c.privateCall("Ledgers", parameters: [("type", "withdrawal")])
        #expect(r.result["count"]?.numberText == String(withdrawals) && withdrawals > 0)
        let btc = export.ledger.filter { $0.entry["asset"]?.stringValue == "XXBT" }.count
        let b = try await c.privateCall("Ledgers", parameters: [("asset", "XBT")])
        #expect(b.result["count"]?.numberText == String(btc))
        await sim.stop()
    }

    @Test func offsetsDriftUnderLiveInserts() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let page0 = try await c.privateCall("Ledgers")
        let ids0 = page0.result["ledger"]?.objectMembers?.map(\.0) ?? []
        // Live inserts between page requests: naive offset paging sees rows twice.
        await sim.state.addFault(FaultRule(kind: .liveInserts, count: 1, methods: ["Ledgers"]))
        let page1 = try await c.privateCall("Ledgers", parameters: [("ofs", "50")])
        let ids1 = page1.result["ledger"]?.objectMembers?.map(\.0) ?? []
        let dup = Set(ids0).intersection(ids1)
        #expect(dup.count == 6, "3 new trades = 6 ledger entries shift the offset")
        #expect(Int(page1.result["count"]?.numberText ?? "") == Int(page0.result["count"]?.numberText ?? "")! + 6)
        // A fixed end (the newest id seen on page 0) is immune.
        let fixed = try await c.privateCall("Ledgers", parameters: [("end", ids0[0]), ("ofs", "50")])
        #expect(Set(ids0).isDisjoint(with: fixed.result["ledger"]?.objectMembers?.map(\.0) ?? []))
        // Adding activity through the control endpoint works the same way.
        let added = try await RawHTTP.control(sim, "/_sim/activity", method: "POST", json: #"{"account":"acct1","trades":2}"#)
        #expect(added["ledger_entries_added"]?.numberText == "4")
        await sim.stop()
    }

    @Test func closedOrdersTradesHistoryAndOpenOrders() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let export = try await sim.state.export(account: "acct1")
        let closed = try await c.privateCall("ClosedOrders", parameters: [("trades", "true")])
        let nonOpen = export.orders.filter { $0.order["status"]?.stringValue != "open" }
        #expect(closed.result["count"]?.numberText == String(nonOpen.count))
        let statuses = Set(nonOpen.compactMap { $0.order["status"]?.stringValue })
        #expect(statuses.isSuperset(of: ["closed", "canceled", "expired"]))
        #expect(closed.result["closed"]?.objectMembers?.first?.1["descr"]?["pair"]?.stringValue?.isEmpty == false)
        // closetime=close: newest close time first.
        let closes = (closed.result["closed"]?.objectMembers ?? []).compactMap { Decimal(string: $0.1["closetm"]?.numberText ?? "") }
        #expect(closes == closes.sorted(by: >))
        // closetime=open with start = order id: only orders opened after it.
        let pivot = nonOpen[nonOpen.count / 2]
        let after = try await c.privateCall("ClosedOrders", parameters: [("closetime", "open"), ("start", pivot.id)])
        let pivotOpen = Decimal(string: pivot.order["opentm"]!.numberText!)!
        for (_, o) in after.result["closed"]?.objectMembers ?? [] {
            #expect(Decimal(string: o["opentm"]!.numberText!)! >= pivotOpen)
        }
        let open = try await c.privateCall("OpenOrders")
        #expect(open.result["open"]?.membersCount == export.orders.count - nonOpen.count)
        let trades = try await c.privateCall("TradesHistory", parameters: [("ledgers", "true")])
        #expect(trades.result["count"]?.numberText == String(export.trades.count))
        let ledgerIDs = Set(export.ledger.map(\.id))
        for (id, t) in trades.result["trades"]?.objectMembers ?? [] {
            let legs = t["ledgers"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(legs.count == 2 && legs.allSatisfy(ledgerIDs.contains), "trade \(id)")
            #expect(t["pair"]?.stringValue?.isEmpty == false && t["trade_id"]?.numberText != nil && t["maker"] != nil)
        }
        await sim.stop()
    }

    @Test func queryIdLimits() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let export = try await sim.state.export(account: "acct1")
        let l = export.ledger.map(\.id)
        let t = export.trades.map(\.id)
        let o = export.orders.map(\.id)
        #expect(
            try await c.privateCall("QueryLedgers", parameters: [("id", l.prefix(20).joined(separator: ","))]).result.membersCount == 20)
        #expect(
            await TestSim.errors { try await c.privateCall("QueryLedgers", parameters: [("id", l.prefix(21).joined(separator: ","))]) } == [
                "EGeneral:Invalid arguments"
            ])
        #expect(
            try await c.privateCall("QueryTrades", parameters: [("txid", t.prefix(20).joined(separator: ","))]).result.membersCount == 20)
        #expect(
            await TestSim.errors { try await c.privateCall("QueryTrades", parameters: [("txid", t.prefix(21).joined(separator: ","))]) }
                == ["EGeneral:Invalid arguments"])
        #expect(
            try await c.privateCall("QueryOrders", parameters: [("txid", o.prefix(50).joined(separator: ","))]).result.membersCount == 50)
        #expect(
            await TestSim.errors { try await c.privateCall("QueryOrders", parameters: [("txid", o.prefix(51).joined(separator: ","))]) }
                == ["EGeneral:Invalid arguments"])
        #expect(await TestSim.errors { try await c.privateCall("QueryLedgers") } == ["EGeneral:Invalid arguments:id"])
        await sim.stop()
    }

    @Test func fundingStatusArraysAndCursors() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let export = try await sim.state.export(account: "acct1")
        let all = try await c.privateCall("WithdrawStatus")
        #expect(all.result.arrayValue?.count == export.withdrawals.count && export.withdrawals.count >= 3)
        let w = try #require(all.result.arrayValue?.first)
        for f in ["method", "network", "aclass", "asset", "refid", "txid", "info", "amount", "fee", "time", "status", "key"] {
            #expect(w[f] != nil, "WithdrawStatus field \(f)")
        }
        #expect(w["time"]?.numberText?.contains(".") == false)
        var refids: [String] = []
        var cursor = "true"
        var pages = 0
        while pages < 100 {
            let page = try await c.privateCall("WithdrawStatus", parameters: [("cursor", cursor), ("limit", "2")])
            refids += page.result["withdrawals"]?.arrayValue?.compactMap { $0["refid"]?.stringValue } ?? []
            pages += 1
            guard let next = page.result["next_cursor"]?.stringValue else { break }
            cursor = next
        }
        #expect(refids == all.result.arrayValue?.compactMap { $0["refid"]?.stringValue })
        let deposits = try await c.privateCall("DepositStatus", parameters: [("cursor", "true")])
        #expect(deposits.result["deposits"]?.arrayValue?.count == min(25, export.deposits.count))
        await sim.stop()
    }
}
