import Analyser
import AuditConfig
import AuditStore
import Foundation
import KrakenAPI
import KrakenSimulator
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 15, red team (withdrawal destinations): the account taker edits the address book and withdraws "to a
/// familiar name", end to end: simulator (`/_sim/address-book`) -> collector -> analyser -> findings, on two seeds.
@Suite struct RedTeamWithdrawalTests {
    static let attacker = "bc1qattacker7x9f2tvdw0s3jn54khce6mua7lqpzry"
    static let withdrawalRules: Set<String> = ["unexpected_withdrawal", "withdrawal_address_changed"]

    /// A clean account (no planted anomalies) with a shorter history than PipelineTests: only the withdrawal
    /// rules' findings after the account taker's move are judged.
    static func withPipeline(seed: UInt64, _ body: (Pipeline) async throws -> Void) async throws {
        try await Pipeline.with(seed: seed, clean: true, scale: 600, days: 90, accounts: 1, body)
    }

    /// POSTs `body` to the simulator's control endpoint `path`; the answer's JSON.
    @discardableResult
    static func control(_ p: Pipeline, _ path: String, _ body: [String: String]) async throws -> [String: Any] {
        var request = URLRequest(url: p.sim.baseURL.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        #expect(status == 200, "\(path): \(String(decoding: data, as: UTF8.self))")
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// Collects (successfully) and analyses.
    static func night(_ p: Pipeline) async throws {
        let outcomes = await p.collect()
        let ok = outcomes.allSatisfy(\.succeeded)
        #expect(ok, "\(outcomes.map { "\($0.account): \($0.error.map { "\($0)" } ?? "ok")" })")
        try p.analyse()
    }

    /// The account's usual cold-storage entry, as the ground truth lists it (and the operator allowlisted it).
    static func coldStorage(_ p: Pipeline) async throws -> String {
        let truth = await p.sim.truthDocument
        let xbt = truth["accounts"]?.arrayValue?.first?["normal_withdrawal_addresses"]?["XXBT"]?.arrayValue ?? []
        let entry = try #require(xbt.first { $0["key"]?.stringValue == "btc-cold-storage" })
        let address = try #require(entry["address"]?.stringValue)
        #expect(p.configText.contains("\"\(address)\""), "the operator's allowlist holds the cold-storage address")
        return address
    }

    @Test(arguments: PipelineTests.seeds)
    func attackerAddressSavedUnderAnAllowlistedNameIsReportedByBothRules(seed: UInt64) async throws {
        try await Self.withPipeline(seed: seed) { p in
            let cold = try await Self.coldStorage(p)
            // A payout to the cold wallet as usual, collected and analysed: silent.
            let usual = try await Self.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.01"])
            #expect(usual["address"] as? String == cold)
            // Kraken's clock moves on (its times have whole seconds: the two payouts must not share one).
            await p.sim.state.setClockOffset(p.sim.state.clockOffsetSeconds + 10)
            try await Self.night(p)
            #expect(try p.findings().filter { Self.withdrawalRules.contains($0.ruleId) && $0.severity >= .medium }.isEmpty)

            // The account taker saves their address under the allowlisted entry's name and withdraws to "it".
            try await Self.control(
                p, "_sim/address-book", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "address": Self.attacker])
            let attack = try await Self.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.02"])
            let refid = try #require(attack["refid"] as? String)
            #expect(attack["address"] as? String == Self.attacker)
            try await Self.night(p)

            let findings = try p.findings()
            let unexpected = findings.filter { $0.ruleId == "unexpected_withdrawal" && $0.entityId == refid }
            #expect(unexpected.map(\.severity) == [.high], "\(findings.map(\.line))")
            #expect(unexpected.first?.title.contains("btc-cold-storage (\(Self.attacker))") == true)
            #expect(unexpected.first?.title.contains("not in the allowlist") == true)
            let changed = findings.filter { $0.ruleId == "withdrawal_address_changed" }
            #expect(changed.map(\.severity) == [.high], "\(findings.map(\.line))")
            #expect(changed.first?.entityId == refid)
            #expect(changed.first?.title.contains("\"btc-cold-storage\" (XXBT) re-pointed: withdrawal to \(Self.attacker)") == true)
            #expect(changed.first?.title.contains(cold) == true)
        }
    }

    @Test(arguments: PipelineTests.seeds)
    func aNamesOnlyAllowlistIsRefused(seed: UInt64) async throws {
        try await Self.withPipeline(seed: seed) { p in
            // The operator's allowlist written with the address-book names of the ground truth, as the old example did.
            let truth = await p.sim.truthDocument
            let names = (truth["accounts"]?.arrayValue?.first?["normal_withdrawal_addresses"]?["XXBT"]?.arrayValue ?? [])
                .compactMap { $0["key"]?.stringValue }
            #expect(names.contains("btc-cold-storage"))
            let lines = p.configText.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("allowlist = ")
                    ? "allowlist = { XXBT = [\(names.map { "\"\($0)\"" }.joined(separator: ", "))] }" : String(line)
            }
            let config = try ConfigLoader.parse(lines.joined(separator: "\n"), path: "names.toml")
            // What every command does when it loads the configuration (ConfigError: exit 78, see ExitCodes).
            #expect(
                throws: ConfigError.invalidValue(
                    path: "rules.unexpected_withdrawal.allowlist.XXBT[0]",
                    reason: Self.refusal(names[0]))
            ) {
                try validateRuleConfiguration(config, sqlDirectory: TestDatabase.sqlDirectory.path)
            }
        }
    }

    /// The refusal's text for `name` (checked in full once: it must say why names cannot be trusted).
    static func refusal(_ name: String) -> String {
        "'\(name)' looks like an address-book name, not a destination address. Names cannot be trusted: whoever can edit the "
            + "account's address book (someone who took it over, too) chooses them, so an attacker's address saved as '\(name)' "
            + "would pass. Write the destination address as WithdrawStatus reports it (info), e.g. \"bc1q...\", \"0x...\" or an "
            + "IBAN; to require the name as well, write { address = \"...\", name = \"\(name)\" }; an address of another shape "
            + "can be written as { address = \"...\" }"
    }

    @Test(arguments: PipelineTests.seeds)
    func nearMissARenameToTheSameAddressGivesNoHighFinding(seed: UInt64) async throws {
        try await Self.withPipeline(seed: seed) { p in
            let cold = try await Self.coldStorage(p)
            try await Self.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "amount": "0.01"])
            try await Self.night(p)
            // The owner renames the entry; the address stays.
            let renamed = try await Self.control(
                p, "_sim/address-book/rename",
                ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage", "new_name": "btc-cold-storage-2027"])
            #expect(renamed["address"] as? String == cold)
            let payout = try await Self.control(
                p, "_sim/address-book/withdraw", ["account": "acct1", "asset": "XXBT", "name": "btc-cold-storage-2027", "amount": "0.01"])
            let refid = try #require(payout["refid"] as? String)
            try await Self.night(p)

            let findings = try p.findings()
            let loud = findings.filter { Self.withdrawalRules.contains($0.ruleId) && $0.severity >= .medium }
            #expect(loud.isEmpty, "\(loud.map(\.line))")
            // Known to the analyst all the same: the allowlisted address under a new name (info).
            let changed = findings.filter { $0.ruleId == "withdrawal_address_changed" }
            #expect(changed.map(\.severity) == [.info], "\(findings.map(\.line))")
            #expect(changed.first?.entityId == refid)
        }
    }
}
