import Analyser
import AuditConfig
import AuditStore
import Foundation
import Testing

/// Issue 15 items 1 and 2: withdrawal destinations are trusted by address, never by address-book name (the account
/// taker chooses the names), and a name that changes its address is reported.
@Suite("Withdrawal destinations")
struct WithdrawalDestinationTests {
    static let cold = "0x9f2c11ab9f2c11ab9f2c11ab9f2c11ab9f2c11ab"
    static let attacker = "0xa77ac4e2a77ac4e2a77ac4e2a77ac4e2a77ac4e2"
    static let spare = "0x5a5e5a5e5a5e5a5e5a5e5a5e5a5e5a5e5a5e5a5e"

    func settings(_ rules: String) throws -> Result<[RuleSettings], ConfigError> {
        let config = try Fixture.config(rules: rules)
        do { return .success(try ruleSettings(catalogue: Fixture.catalogue, config: config.rules)) } catch { return .failure(error) }
    }

    /// A withdrawal of `amount` XETH (ledger entry and WithdrawStatus record).
    func withdraw(_ f: Fixture, _ refid: String, day: Int, address: String?, name: String?, amount: String = "1.0000000000") throws {
        let time = String(format: "2026-02-%02dT10:00:00Z", day)
        try f.ledger(
            Fixture.krakenId("L", 1000 + day), refid: refid, time: time, type: "withdrawal", asset: "XETH",
            amount: "-" + amount, balance: "50.0000000000")
        try f.withdrawal(refid, asset: "XETH", amount: amount, time: time, address: address, key: name)
    }

    // MARK: configuration

    @Test(arguments: [
        "cold-wallet", "eth ledger", "my_wallet", "Cold Storage #1", "coldwallet", "0xabc", "treasury.eth",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ])
    func aBareAddressBookNameIsRefusedSayingWhy(entry: String) throws {
        let result = try settings(
            "[rules.unexpected_withdrawal]\nallowlist = { XXBT = [\"bc1qa35ls3egf0872h3w\"], XETH = [\"\(entry)\"] }\n")
        guard case .failure(.invalidValue(let path, let reason)) = result else {
            Issue.record("'\(entry)' was accepted: \(result)")
            return
        }
        #expect(path == "rules.unexpected_withdrawal.allowlist.XETH[0]")
        #expect(reason.contains("'\(entry)' looks like an address-book name"))
        #expect(reason.contains("cannot be trusted"))
        #expect(reason.contains("{ address = \"...\", name = \"\(entry)\" }"))
    }

    @Test(arguments: [
        ("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", DestinationShape.other),  // bech32
        ("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", .other),  // bech32m (taproot)
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", .other),  // base58
        ("rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh", .other),  // XRP
        ("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", .other),
        ("0x52908400098527886E0F7030069857D2E4169EE7", .hex),  // EIP-55 mixed case
        ("DE89370400440532013000", .iban),
        ("NO9386011117947", .iban),  // the shortest IBAN (15)
    ])
    func addressesOfEveryCommonShapeAreAccepted(address: String, shape: DestinationShape) throws {
        #expect(DestinationShape(of: address) == shape)
        let result = try settings("[rules.unexpected_withdrawal]\nallowlist = { XXBT = [\"\(address)\"] }\n")
        guard case .success = result else {
            Issue.record("\(address) refused: \(result)")
            return
        }
    }

    @Test func tableEntriesRequireAnAddressAndPassTheNameAlong() throws {
        let ok = try settings(
            """
            [rules.unexpected_withdrawal]
            allowlist = { XETH = [{ address = "\(Self.cold)", name = "cold-wallet" }, { address = "addr-of-an-odd-chain" }] }
            """)
        let all = try ok.get()
        let withdrawal = try #require(all.first { $0.rule.id == "unexpected_withdrawal" })
        #expect(
            withdrawal.binds["allowlist"]
                == "{\"XETH\":[{\"address\":\"\(Self.cold)\",\"name\":\"cold-wallet\"},{\"address\":\"addr-of-an-odd-chain\",\"name\":null}]}"
        )
        // withdrawal_address_changed shares the list unless it sets its own.
        let changed = try #require(all.first { $0.rule.id == "withdrawal_address_changed" })
        #expect(changed.binds["allowlist"] == withdrawal.binds["allowlist"])

        let nameOnly = try settings("[rules.unexpected_withdrawal]\nallowlist = { XETH = [{ name = \"cold-wallet\" }] }\n")
        guard case .failure(.invalidValue(let path, let reason)) = nameOnly else {
            Issue.record("a name-only table was accepted: \(nameOnly)")
            return
        }
        #expect(path == "rules.unexpected_withdrawal.allowlist.XETH[0]")
        #expect(reason.contains("name alone cannot be trusted"))
        let typo = try settings("[rules.unexpected_withdrawal]\nallowlist = { XETH = [{ adress = \"\(Self.cold)\" }] }\n")
        #expect(typo.failure == .unknownKey(path: "rules.unexpected_withdrawal.allowlist.XETH[0].adress"))
        // A names-only list for the second rule is refused on its own key path.
        let own = try settings("[rules.withdrawal_address_changed]\nallowlist = { XETH = [\"cold-wallet\"] }\n")
        guard case .failure(.invalidValue(let ownPath, _)) = own else {
            Issue.record("accepted: \(own)")
            return
        }
        #expect(ownPath == "rules.withdrawal_address_changed.allowlist.XETH[0]")
    }

    // MARK: unexpected_withdrawal

    @Test func theAttackersAddressUnderAnAllowlistedNameIsReported() throws {
        let f = try Fixture("dest_name")
        for day in 1...5 { try withdraw(f, "FT-hist-\(day)", day: day, address: Self.cold, name: "cold-wallet") }
        try withdraw(f, "FT-attack", day: 20, address: Self.attacker, name: "cold-wallet")
        // Both must match: the allowlisted name does not let another address through.
        try f.analyse(
            ["unexpected_withdrawal"],
            config: """
                [rules.unexpected_withdrawal]
                allowlist = { XETH = [{ address = "\(Self.cold)", name = "cold-wallet" }] }
                new_asset_severity = "off"
                """)
        let found = try f.findings("unexpected_withdrawal")
        #expect(found.map(\.entityId) == ["FT-attack"])
        let w = try #require(found.first)
        #expect(w.severity == .high)
        #expect(w.title.contains("cold-wallet (\(Self.attacker))"))
        #expect(w.title.contains("not in the allowlist"))
    }

    @Test func theAllowlistedAddressUnderAnotherNameFailsATableEntryButPassesABareOne() throws {
        let f = try Fixture("dest_table")
        for day in 1...5 { try withdraw(f, "FT-hist-\(day)", day: day, address: Self.cold, name: "cold-wallet") }
        try withdraw(f, "FT-renamed", day: 20, address: Self.cold, name: "cold-wallet-2")
        try f.analyse(
            ["unexpected_withdrawal"],
            config: """
                [rules.unexpected_withdrawal]
                allowlist = { XETH = [{ address = "\(Self.cold)", name = "cold-wallet" }] }
                new_asset_severity = "off"
                """)
        #expect(try f.findings("unexpected_withdrawal").map(\.entityId) == ["FT-renamed"])
        let g = try Fixture("dest_bare")
        for day in 1...5 { try withdraw(g, "FT-hist-\(day)", day: day, address: Self.cold, name: "cold-wallet") }
        try withdraw(g, "FT-renamed", day: 20, address: Self.cold, name: "cold-wallet-2")
        try g.analyse(
            ["unexpected_withdrawal"],
            config: """
                [rules.unexpected_withdrawal]
                allowlist = { XETH = ["\(Self.cold)"] }
                new_asset_severity = "off"
                """)
        #expect(try g.findings("unexpected_withdrawal").isEmpty)
    }

    @Test func hexAddressesCompareCaseInsensitivelyAndOthersExactly() throws {
        let f = try Fixture("dest_case")
        // EIP-55 checksummed in the allowlist, lower case from Kraken: the same address.
        try withdraw(f, "FT-hex", day: 3, address: Self.cold, name: nil)
        try f.withdrawal(
            "FT-bech32-upper", asset: "XXBT", amount: "0.1000000000", time: "2026-02-04T10:00:00Z",
            address: "BC1QA35LS3EGF0872H3W", key: nil)
        try f.analyse(
            ["unexpected_withdrawal"],
            config: """
                [rules.unexpected_withdrawal]
                allowlist = { XETH = ["\(Self.cold.uppercased().replacingOccurrences(of: "0X", with: "0x"))"], XXBT = ["bc1qa35ls3egf0872h3w"] }
                new_asset_severity = "off"
                """)
        let found = try f.findings("unexpected_withdrawal")
        #expect(found.map(\.entityId) == ["FT-bech32-upper"])
    }

    @Test func aRecordWithANameButNoAddressKeepsItsLowFinding() throws {
        let f = try Fixture("dest_noaddr")
        try withdraw(f, "FT-nameonly", day: 3, address: nil, name: "cold-wallet")
        try f.analyse(
            ["unexpected_withdrawal"],
            config: """
                [rules.unexpected_withdrawal]
                allowlist = { XETH = ["\(Self.cold)"] }
                new_asset_severity = "off"
                """)
        let w = try #require(try f.findings("unexpected_withdrawal").first)
        #expect(w.severity == .low)
        #expect(w.title.contains("no recorded destination address"))
    }

    // MARK: withdrawal_address_changed

    static let changedConfig = """
        [rules.unexpected_withdrawal]
        allowlist = { XETH = ["\(cold)", "\(spare)"] }
        """

    @Test func aRepointedNameIsReportedWithBothAddressesAndTheWithdrawals() throws {
        let f = try Fixture("wac_tp")
        for day in 1...3 { try withdraw(f, "FT-cold-\(day)", day: day, address: Self.cold, name: "cold-wallet") }
        try f.analyse(["withdrawal_address_changed"], config: Self.changedConfig)
        #expect(try f.findings("withdrawal_address_changed").isEmpty)
        // Next night: the account taker saved their address as "cold-wallet" and withdrew twice.
        try withdraw(f, "FT-attack-1", day: 10, address: Self.attacker, name: "cold-wallet")
        try withdraw(f, "FT-attack-2", day: 11, address: Self.attacker, name: "cold-wallet")
        try f.analyse(["withdrawal_address_changed"], config: Self.changedConfig)
        let found = try f.findings("withdrawal_address_changed")
        #expect(found.count == 1)
        let c = try #require(found.first)
        #expect(c.severity == .high)
        #expect(c.entityId == "FT-attack-1")
        #expect(
            c.title.hasPrefix(
                "Address-book entry \"cold-wallet\" (XETH) re-pointed: withdrawal to \(Self.attacker) (not in the allowlist), before to \(Self.cold)"
            ))
        #expect(c.title.contains("first seen 2026-02-10 11:00 Europe/Berlin"))
        let e = c.evidenceObject
        #expect(e["change"] as? String == "repointed")
        #expect(e["name"] as? String == "cold-wallet")
        #expect(e["address"] as? String == Self.attacker)
        #expect(e["withdrawals"] as? Int == 2)
        #expect(e["recent_refids"] as? [String] == ["FT-attack-2", "FT-attack-1"])
        #expect((e["first_seen"] as? String)?.hasPrefix("2026-02-10T10:00:00") == true)
        #expect((e["last_seen"] as? String)?.hasPrefix("2026-02-11T10:00:00") == true)
        let before = try #require(e["previous_addresses"] as? [[String: Any]])
        #expect(before.count == 1)
        #expect(before.first?["address"] as? String == Self.cold)
        #expect(before.first?["withdrawals"] as? Int == 3)
        #expect(before.first?["recent_refids"] as? [String] == ["FT-cold-3", "FT-cold-2", "FT-cold-1"])
        #expect((before.first?["first_seen"] as? String)?.hasPrefix("2026-02-01T10:00:00") == true)
        #expect((before.first?["last_seen"] as? String)?.hasPrefix("2026-02-03T10:00:00") == true)
        // Analysed again from scratch: the same finding, no second one.
        let again = try f.analyse(["withdrawal_address_changed"], config: Self.changedConfig, since: Fixture.t("2020-01-01T00:00:00Z"))
        #expect(again.newFindings == 0)
    }

    @Test func aRenameToTheSameAddressAndAllowlistedPayoutsStaySilent() throws {
        let f = try Fixture("wac_nm")
        for day in 1...3 { try withdraw(f, "FT-cold-\(day)", day: day, address: Self.cold, name: "cold-wallet") }
        // Renamed, same address (in another case: still the same address).
        try withdraw(
            f, "FT-renamed", day: 5, address: Self.cold.uppercased().replacingOccurrences(of: "0X", with: "0x"), name: "eth-cold-storage")
        try withdraw(f, "FT-renamed-2", day: 6, address: Self.cold, name: "eth-cold-storage")
        // A name that was never anything else, not allowlisted and renamed: silent too.
        try withdraw(f, "FT-other-1", day: 7, address: Self.attacker, name: "exchange-b")
        try withdraw(f, "FT-other-2", day: 8, address: Self.attacker, name: "exchange-b-new")
        try f.analyse(["withdrawal_address_changed"], config: Self.changedConfig)
        let found = try f.findings("withdrawal_address_changed")
        #expect(found.filter { $0.severity > .info }.isEmpty, "\(found.map(\.title))")
        // The allowlisted address under its new name is worth knowing (info), once.
        #expect(found.count == 1)
        let r = try #require(found.first)
        #expect(r.severity == .info)
        #expect(r.entityId == "FT-renamed")
        #expect(r.title.contains("under a new address-book name \"eth-cold-storage\" (before: cold-wallet)"))
        #expect((r.evidenceObject["previous_names"] as? [[String: Any]])?.first?["name"] as? String == "cold-wallet")
    }

    @Test func aNameRepointedToAnotherAllowlistedAddressIsLow() throws {
        let f = try Fixture("wac_low")
        try withdraw(f, "FT-cold-1", day: 1, address: Self.cold, name: "cold-wallet")
        try withdraw(f, "FT-spare-1", day: 2, address: Self.spare, name: "cold-wallet")
        // Without an allowlist anywhere the same change is high.
        try f.analyse(["withdrawal_address_changed"])
        #expect(try f.findings("withdrawal_address_changed").map(\.severity) == [.high])
        try f.analyse(["withdrawal_address_changed"], config: Self.changedConfig)
        #expect(try f.findings("withdrawal_address_changed").map(\.severity) == [.low])
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
