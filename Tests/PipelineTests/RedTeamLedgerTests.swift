import Analyser
import AuditStore
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

/// Issue 15, red team (ledger): Kraken's ledger changes after kraken-audit has read it (an entry's amount or
/// balance differs, or an entry vanishes), end to end through `/_sim/ledger/...` -> collector -> analyser ->
/// findings, on two seeds. The rule that must fire is `ledger_gap`; re-reading an unchanged ledger (the
/// collector's overlap window) must stay silent.
///
/// What the collector sees: each run re-reads the last `overlapSeconds` (600) before the previous run's end and
/// upserts what Kraken answers, so a change to an entry inside that window replaces the stored copy and breaks
/// the balance chain there. The collector records no `source_mismatch` for a REST re-read (that table is the
/// export-versus-API comparison), and an entry older than the window, or one that vanishes after it was stored, is
/// not read again: the stored copy stays as the evidence (see the report of issue 15).
@Suite struct RedTeamLedgerTests {
    typealias W = RedTeamWithdrawalTests

    func withPipeline(seed: UInt64, _ body: (Pipeline) async throws -> Void) async throws {
        try await Pipeline.with(seed: seed, clean: true, scale: 200, days: 30, accounts: 1, body)
    }

    func gaps(_ p: Pipeline) throws -> [Finding] { try p.findings().filter { $0.ruleId == "ledger_gap" } }

    func ledgerID(_ p: Pipeline, refid: String) throws -> String {
        try p.db.query("SELECT ledger_id FROM audit.ledger_entries WHERE refid = $1 AND type = 'withdrawal'", [refid]).rows[0].decode(
            0, as: String.self)
    }

    func stored(_ p: Pipeline, ledgerID: String) throws -> (amount: String, balance: String)? {
        let rows = try p.db.query("SELECT amount::text, balance::text FROM audit.ledger_entries WHERE ledger_id = $1", [ledgerID]).rows
        guard let r = rows.first else { return nil }
        return (try r.decode(0, as: String.self), try r.decode(1, as: String.self))
    }

    // The first payout of each test is large enough to fund the later ones: a top-up deposit booked an hour back
    // (withdrawToAddressBook) would fall before the collector's window and itself break the chain.

    /// A payout, collected; then Kraken shows it smaller (the balance as before) and the next run re-reads it.
    @Test(arguments: PipelineTests.seeds) func amountAlteredUpstream(seed: UInt64) async throws {
        try await withPipeline(seed: seed) { p in
            let payout = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.1"])
            let refid = try #require(payout["refid"] as? String)
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)
            let id = try ledgerID(p, refid: refid)
            let before = try #require(try stored(p, ledgerID: id))
            // Near miss: the next run re-reads the same entries unchanged.
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)
            let quiet = try gaps(p)
            #expect(quiet.isEmpty, "\(quiet.map(\.line))")

            let altered = try await RedTeamKeyTests().control(
                p, "_sim/ledger/alter", #"{"account": "acct1", "ledger_id": "\#(id)", "amount": "0.015"}"#)
            #expect(altered["amount"]?.stringValue == "-0.0850000000", "\(altered.jsonText)")
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)
            let after = try #require(try stored(p, ledgerID: id))
            #expect(after.amount != before.amount && after.balance == before.balance)
            let found = try gaps(p)
            let gap = try #require(found.first { $0.entityId == id }, "\(found.map(\.line))")
            #expect(gap.severity == .high)
            #expect(found.count == 1, "\(found.map(\.line))")
        }
    }

    /// A payout's balance changed upstream (the amount as before): the entry and the next one of the asset break.
    @Test(arguments: PipelineTests.seeds) func balanceAlteredUpstream(seed: UInt64) async throws {
        try await withPipeline(seed: seed) { p in
            let first = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.1"])
            await RedTeamPayoutTests.advance(p, seconds: 5)
            let second = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.01"])
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)
            let quiet = try gaps(p)
            #expect(quiet.isEmpty, "\(quiet.map(\.line))")
            let firstID = try ledgerID(p, refid: try #require(first["refid"] as? String))
            let secondID = try ledgerID(p, refid: try #require(second["refid"] as? String))

            _ = try await RedTeamKeyTests().control(
                p, "_sim/ledger/alter", #"{"account": "acct1", "ledger_id": "\#(firstID)", "balance": "0.5"}"#)
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)
            let found = try gaps(p)
            #expect(Set(found.compactMap(\.entityId)) == [firstID, secondID], "\(found.map(\.line))")
            #expect(found.allSatisfy { $0.severity == .high })
        }
    }

    /// A payout that vanishes from Kraken's ledger before kraken-audit read it (its WithdrawStatus record and the
    /// later balances still show it): the next entry of the asset does not chain. The same entry vanishing after
    /// it was stored changes nothing in the audit copy.
    @Test(arguments: PipelineTests.seeds) func entryVanishesUpstream(seed: UInt64) async throws {
        try await withPipeline(seed: seed) { p in
            let kept = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.1"])
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)
            let quiet = try gaps(p)
            #expect(quiet.isEmpty, "\(quiet.map(\.line))")
            let keptID = try ledgerID(p, refid: try #require(kept["refid"] as? String))

            let hidden = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.02"])
            let hiddenRefid = try #require(hidden["refid"] as? String)
            await RedTeamPayoutTests.advance(p, seconds: 5)
            let next = try await W.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.01"])
            _ = try await RedTeamKeyTests().control(p, "_sim/ledger/delete", #"{"account": "acct1", "refid": "\#(hiddenRefid)"}"#)
            // And the entry kraken-audit already holds vanishes too.
            _ = try await RedTeamKeyTests().control(p, "_sim/ledger/delete", #"{"account": "acct1", "ledger_id": "\#(keptID)"}"#)
            await RedTeamPayoutTests.advance(p, seconds: 5)
            try await W.night(p)

            let nextID = try ledgerID(p, refid: try #require(next["refid"] as? String))
            let found = try gaps(p)
            let gap = try #require(found.first { $0.entityId == nextID }, "\(found.map(\.line))")
            #expect(gap.severity == .high)
            #expect(found.count == 1, "\(found.map(\.line))")
            #expect(try stored(p, ledgerID: keptID) != nil, "the audit copy keeps the entry Kraken no longer shows")
        }
    }
}
