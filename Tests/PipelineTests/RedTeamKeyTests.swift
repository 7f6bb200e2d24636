import Analyser
import AuditKernel
import AuditStore
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 15, red team (API keys): the account taker works on the audit key against the simulator, end to end
/// (simulator -> collector -> analyser -> findings), one test per evasion, each asserting the rule that must still
/// fire; the near miss (an unchanged key) must stay silent. Two simulator seeds, like PipelineTests.
///
/// The simulator's default keys are what an audit key should be (read-only, IP allowlist), so the clean-account
/// tests stay free of key_posture findings without configuring anything.
@Suite struct RedTeamKeyTests {
    static let keyRules: Set<String> = ["key_posture", "key_changed", "key_used_elsewhere"]

    /// A small clean account: the key is what matters here.
    func withPipeline(seed: UInt64, _ body: (Pipeline) async throws -> Void) async throws {
        try await Pipeline.with(seed: seed, clean: true, scale: 200, days: 30, accounts: 1, body)
    }

    /// One nightly run: collect (must succeed), then analyse.
    func night(_ p: Pipeline) async throws {
        let outcomes = await p.collect()
        let allOK = outcomes.allSatisfy { $0.succeeded }
        #expect(allOK, "\(outcomes.map { "\($0.account): \($0.error.map { "\($0)" } ?? "ok")" })")
        try p.analyse()
    }

    func keyFindings(_ p: Pipeline) throws -> [Finding] {
        try p.findings().filter { Self.keyRules.contains($0.ruleId) }
    }

    /// POSTs `body` to a `/_sim` control endpoint, the way a test harness or an operator drives the simulator.
    func control(_ p: Pipeline, _ path: String, _ body: String) async throws -> JSONValue {
        var request = URLRequest(url: p.sim.baseURL.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(path): \(String(decoding: data, as: UTF8.self))")
        return try JSONValue.parse(Array(data))
    }

    @Test(arguments: PipelineTests.seeds) func keyWidenedToWithdrawRights(seed: UInt64) async throws {
        try await withPipeline(seed: seed) { p in
            try await night(p)
            let afterFirst = try keyFindings(p)
            #expect(afterFirst.isEmpty, "\(afterFirst.map(\.line))")
            // The taker edits the key on Kraken: withdraw rights and address-book management.
            _ = try await control(
                p, "_sim/keys/acct1",
                #"""
                {"permissions": ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "withdraw-funds", "add-withdraw-address"]}
                """#)
            try await night(p)
            let found = try keyFindings(p)
            let changed = try #require(found.first { $0.ruleId == "key_changed" }, "\(found.map(\.line))")
            #expect(changed.severity == .high)
            #expect(changed.title.contains("permissions added: add-withdraw-address, withdraw-funds"))
            let posture = try #require(found.first { $0.ruleId == "key_posture" })
            #expect(posture.severity == .high)
            #expect(posture.evidence("beyond_read_only") as? [String] == ["add-withdraw-address", "withdraw-funds"])
            #expect(!found.contains { $0.ruleId == "key_used_elsewhere" })
        }
    }

    @Test(arguments: PipelineTests.seeds) func ipAllowlistRemoved(seed: UInt64) async throws {
        try await withPipeline(seed: seed) { p in
            try await night(p)
            try await p.sim.state.updateKey(account: "acct1", KeySettingsChange(ipAllowlist: []))
            try await night(p)
            let found = try keyFindings(p)
            let posture = try #require(found.first { $0.ruleId == "key_posture" }, "\(found.map(\.line))")
            #expect(posture.severity == .medium)
            #expect(posture.evidence("condition") as? String == "no_ip_allowlist")
            let changed = try #require(found.first { $0.ruleId == "key_changed" })
            #expect(changed.severity == .high)
            #expect(changed.title.contains("IP allowlist removed"))
            #expect(found.count == 2, "\(found.map(\.line))")
            // The owner puts the allowlist back: the posture finding is resolved by the analyser (resolves: when_absent).
            try await p.sim.state.updateKey(account: "acct1", KeySettingsChange(ipAllowlist: ["127.0.0.1"]))
            try await night(p)
            let after = try keyFindings(p)
            let resolved = try #require(after.first { $0.id == posture.id })
            #expect(resolved.status == .resolved, "\(after.map(\.line))")
            #expect(!after.contains { $0.ruleId == "key_posture" && $0.status == .open }, "\(after.map(\.line))")
        }
    }

    /// Kraken does not say whether GetApiKeyInfo's nonce/lastUsed include the asking request: the foreign client is
    /// found under both readings. Excluding it, the answer shows the foreign call itself. Including it, kraken-audit's
    /// own nonce hides one below it, so the foreign client must be ahead, which a nonce window lets kraken-audit
    /// survive (set before the first night: the window itself is only a low key_posture finding).
    @Test(arguments: PipelineTests.seeds, [false, true]) func foreignClientUsesTheAuditKey(seed: UInt64, infoIncludesRequest: Bool)
        async throws
    {
        try await withPipeline(seed: seed) { p in
            if infoIncludesRequest {
                try await p.sim.state.updateKey(account: "acct1", KeySettingsChange(nonceWindow: 3_600_000))
            } else {
                try await p.sim.state.updateKey(account: "acct1", KeySettingsChange(keyInfoExcludesCurrent: true))
            }
            try await night(p)
            let afterFirst = try keyFindings(p)
            #expect(afterFirst.filter { $0.severity >= .medium }.isEmpty, "\(afterFirst.map(\.line))")
            // Another program signs a call with the key: its nonce is above kraken-audit's (by one, or half an hour of
            // milliseconds when kraken-audit's next nonces must still get through the window).
            let answer = try await control(p, "_sim/keys/acct1/foreign-call", infoIncludesRequest ? #"{"nonce_ahead": 1800000}"# : "{}")
            #expect(answer["answer"]?["error"]?.arrayValue?.isEmpty == true, "\(answer.jsonText)")
            try await night(p)
            let found = try keyFindings(p)
            let used = try #require(found.first { $0.ruleId == "key_used_elsewhere" }, "\(found.map(\.line))")
            #expect(used.severity == .critical)
            #expect(used.evidence("nonce_above_own") as? Bool == true)
            #expect(used.evidence("kraken_nonce") as? String == answer["nonce"]?.stringValue)
            #expect(!found.contains { $0.ruleId == "key_changed" })
        }
    }

    /// Near miss: the same key across three nights, under both readings: no key finding at all.
    @Test(arguments: PipelineTests.seeds, [false, true]) func unchangedKeyStaysSilent(seed: UInt64, infoIncludesRequest: Bool) async throws
    {
        try await withPipeline(seed: seed) { p in
            try await p.sim.state.updateKey(account: "acct1", KeySettingsChange(keyInfoExcludesCurrent: !infoIncludesRequest))
            for _ in 1...3 { try await night(p) }
            let snapshots = try p.db.query("SELECT count(*) FROM audit.api_key_snapshots").rows[0].decode(0, as: Int.self)
            #expect(snapshots == 3)
            // One GetApiKeyInfo call per key and run.
            let calls = try p.db.query("SELECT count(*) FROM audit.api_calls WHERE endpoint = 'GetApiKeyInfo'").rows[0].decode(
                0, as: Int.self)
            #expect(calls == 3)
            // Nothing secret kept: no apiKey (the public key string) in the stored answers.
            let apiKey = try #require(p.sim.accounts.first?.apiKey)
            let leaked = try p.db.query(
                "SELECT count(*) FROM audit.api_key_snapshots WHERE raw ? 'apiKey' OR strpos(raw::text, $1) > 0", [apiKey]
            )
            .rows[0].decode(0, as: Int.self)
            #expect(leaked == 0)
            let found = try keyFindings(p)
            #expect(found.isEmpty, "\(found.map(\.line))")
        }
    }
}

extension Finding {
    /// One member of the evidence JSON.
    func evidence(_ key: String) -> Any? {
        (((try? JSONSerialization.jsonObject(with: Data(evidence.utf8))) as? [String: Any]) ?? [:])[key]
    }
}
