import Analyser
import AuditConfig
import AuditStore
import Foundation
import Testing

extension Fixture {
    /// A GetApiKeyInfo answer as the collector stores it (audit.api_key_snapshots, migration 0009). Times are
    /// ISO texts, nonces decimal texts; nil = unset.
    @discardableResult
    func keySnapshot(
        at observed: String, key: String = "sha256:0123456789abcdef", permissions: [String] = ["query-funds", "query-ledger"],
        ipAllowlist: [String] = ["203.0.113.7"], nonceWindow: Int = 0, validUntil: String? = nil, modified: String = "2026-01-10T09:00:00Z",
        nonce: String? = nil, requestNonce: String? = nil, nonceBefore: String? = nil, usedBefore: String? = nil,
        lastUsed: String? = nil, callId: Int64? = nil
    ) throws -> Int64 {
        func array(_ a: [String]) -> String { "{" + a.map { "\"\($0)\"" }.joined(separator: ",") + "}" }
        return try db.query(
            """
            INSERT INTO audit.api_key_snapshots (account_id, key_fingerprint, api_call_id, request_nonce, audit_nonce_before,
                audit_used_before, observed_at, key_name, permissions, ip_allowlist, nonce_window, valid_until, created_time,
                modified_time, last_used, nonce, raw)
            VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6::timestamptz, $7::timestamptz, 'main-audit', $8::text[], $9::text[],
                    $10, $11::timestamptz, '2026-01-10T08:55:00Z', $12::timestamptz, $13::timestamptz, $14::numeric, '{}')
            RETURNING id
            """,
            [
                accountId, key, callId, requestNonce, nonceBefore, usedBefore, observed, array(permissions), array(ipAllowlist),
                nonceWindow, validUntil, modified, lastUsed, nonce,
            ]
        ).rows[0].decode(0, as: Int64.self)
    }
}

/// Issue 15, part 3: the key rules over audit.api_key_snapshots, each with a true positive and a near miss.
@Suite("Key rules")
struct KeyRuleTests {
    static let now = Fixture.t("2026-03-10T03:00:00Z")

    // MARK: key_posture

    @Test func weakKeyGivesOneFindingPerCondition() throws {
        let f = try Fixture("kp_tp")
        try f.apiKey(created: nil, firstSeen: "2026-01-10T09:00:00Z", lastUsed: "2026-03-10T02:00:00Z")
        try f.keySnapshot(at: "2026-03-09T02:00:00Z")  // older, clean: only the latest counts
        try f.keySnapshot(
            at: "2026-03-10T02:00:00Z", permissions: ["query-funds", "query-ledger", "withdraw-funds", "modify-trades"],
            ipAllowlist: [], nonceWindow: 5000, validUntil: "2026-03-15T00:00:00Z")
        try f.analyse(["key_posture"], now: Self.now)
        let found = try f.findings("key_posture")
        let byCondition = Dictionary(uniqueKeysWithValues: found.map { ($0.evidenceObject["condition"] as? String ?? "?", $0) })
        #expect(byCondition.count == 4, "\(found.map(\.title))")
        #expect(byCondition["no_ip_allowlist"]?.severity == .medium)
        #expect(byCondition["excess_permissions"]?.severity == .high)
        #expect(byCondition["excess_permissions"]?.evidenceObject["beyond_read_only"] as? [String] == ["modify-trades", "withdraw-funds"])
        #expect(byCondition["nonce_window"]?.severity == .low)
        #expect(byCondition["expires_soon"]?.severity == .medium)
        #expect(found.allSatisfy { $0.entityId == "sha256:0123456789abcdef" && $0.title.contains("fix: on Kraken, Settings > API") })
        #expect(byCondition["no_ip_allowlist"]?.title.contains("IP allowlist") == true)
        // The next analysis while nothing changed: the same four findings, no new ones.
        let again = try f.analyse(["key_posture"], now: Self.now.addingTimeInterval(86_400))
        #expect(again.newFindings == 0)
        #expect(try f.findings("key_posture").count == 4)
    }

    @Test func readOnlyAllowlistedKeyAndRetiredKeyStaySilent() throws {
        let f = try Fixture("kp_nm")
        // The audit key: read-only (with the WebSocket interface `watch` needs), allowlisted, no window, expiring in 60 days.
        let watchKey = ["query-funds", "query-ledger", "query-open-trades", "query-closed-trades", "create-ws-token"]
        try f.keySnapshot(at: "2026-03-09T02:00:00Z", permissions: watchKey, validUntil: "2026-05-09T00:00:00Z")
        try f.keySnapshot(at: "2026-03-10T02:00:00Z", permissions: watchKey, validUntil: "2026-05-09T00:00:00Z")
        // A replaced key, weak, last read a month ago: not reported.
        try f.keySnapshot(at: "2026-02-01T02:00:00Z", key: "sha256:fedcba9876543210", permissions: ["withdraw-funds"], ipAllowlist: [])
        try f.analyse(["key_posture"], now: Self.now)
        #expect(try f.findings("key_posture").isEmpty)
    }

    // MARK: key_changed

    @Test func widenedKeyWithoutAllowlistIsReportedWithTheExactDifference() throws {
        let f = try Fixture("kc_tp")
        try f.keySnapshot(at: "2026-03-09T02:00:00Z")
        try f.keySnapshot(
            at: "2026-03-10T02:00:00Z", permissions: ["query-funds", "query-ledger", "withdraw-funds"], ipAllowlist: [],
            modified: "2026-03-09T22:14:00Z")
        try f.analyse(["key_changed"], now: Self.now)
        let found = try f.findings("key_changed")
        #expect(found.count == 1)
        let c = try #require(found.first)
        #expect(c.severity == .high)
        #expect(c.title.contains("permissions added: withdraw-funds"))
        #expect(c.title.contains("IP allowlist removed"))
        #expect(c.title.contains("2026-03-09 23:14 Europe/Berlin"))
        let difference = try #require(c.evidenceObject["difference"] as? [String: Any])
        #expect((difference["permissions"] as? [String: Any])?["added"] as? [String] == ["withdraw-funds"])
        #expect((difference["permissions"] as? [String: Any])?["removed"] as? [String] == [])
        #expect((difference["ip_allowlist"] as? [String: Any])?["removed"] as? [String] == ["203.0.113.7"])
        #expect(difference["modified_time"] != nil)
        #expect(difference["nonce_window"] == nil)
        // Re-analysing the same snapshots changes nothing.
        #expect(try f.analyse(["key_changed"], now: Self.now).newFindings == 0)
    }

    @Test func unchangedKeyStaysSilent() throws {
        let f = try Fixture("kc_nm")
        for day in 1...5 { try f.keySnapshot(at: "2026-03-0\(day)T02:00:00Z", nonce: "\(1_772_000_000_000 + day)") }
        // Another key's first snapshot, different settings: nothing to compare with.
        try f.keySnapshot(at: "2026-03-06T02:00:00Z", key: "sha256:fedcba9876543210", permissions: ["query-ledger"], ipAllowlist: [])
        try f.analyse(["key_changed"], now: Self.now)
        #expect(try f.findings("key_changed").isEmpty)
    }

    // MARK: key_used_elsewhere

    @Test func foreignNonceOrLastUseIsCritical() throws {
        let f = try Fixture("ku_tp")
        // Night 1 (Kraken's answer excludes the asking request: it reports kraken-audit's own previous call).
        let c1 = try f.apiCall(endpoint: "GetApiKeyInfo", at: "2026-03-09T02:00:00Z", nonce: 1_773_021_600_000)
        try f.keySnapshot(
            at: "2026-03-09T02:00:01Z", nonce: "1773000000000", requestNonce: "1773021600000", nonceBefore: "1773000000000",
            usedBefore: "2026-03-08T02:05:00Z", lastUsed: "2026-03-08T02:05:00Z", callId: c1)
        try f.apiCall(endpoint: "Ledgers", at: "2026-03-09T02:01:00Z", nonce: 1_773_021_660_000)
        // Night 2: Kraken's highest nonce is one kraken-audit never sent, and lastUsed is at 14:00, between the nights.
        let c2 = try f.apiCall(endpoint: "GetApiKeyInfo", at: "2026-03-10T02:00:00Z", nonce: 1_773_108_000_000)
        try f.keySnapshot(
            at: "2026-03-10T02:00:01Z", nonce: "1773064800000", requestNonce: "1773108000000", nonceBefore: "1773021660000",
            usedBefore: "2026-03-09T02:01:00Z", lastUsed: "2026-03-09T14:00:00Z", callId: c2)
        try f.analyse(["key_used_elsewhere"], now: Self.now)
        let found = try f.findings("key_used_elsewhere")
        #expect(found.count == 1)
        let u = try #require(found.first)
        #expect(u.severity == .critical)
        #expect(u.evidenceObject["nonce_above_own"] as? Bool == true)
        #expect(u.evidenceObject["last_used_after_own"] as? Bool == true)
        #expect(u.evidenceObject["kraken_nonce"] as? String == "1773064800000")
        #expect(u.title.contains("revoke the key"))
        #expect(u.apiCallIds == [c2])
    }

    @Test func ownUseUnderEitherReadingStaysSilent() throws {
        let f = try Fixture("ku_nm")
        // First snapshot of the key: a high nonce from before kraken-audit owned it is expected.
        let c0 = try f.apiCall(endpoint: "GetApiKeyInfo", at: "2026-03-08T02:00:00Z", nonce: 1_772_935_200_000)
        try f.keySnapshot(
            at: "2026-03-08T02:00:01Z", nonce: "1999999999999", requestNonce: "1772935200000", nonceBefore: "0",
            lastUsed: "2026-03-01T10:00:00Z", callId: c0)
        // Reading "includes the asking request": nonce = this call's own, lastUsed = now.
        let c1 = try f.apiCall(endpoint: "GetApiKeyInfo", at: "2026-03-09T02:00:00Z", nonce: 1_773_021_600_000)
        try f.keySnapshot(
            at: "2026-03-09T02:00:01Z", nonce: "1773021600000", requestNonce: "1773021600000", nonceBefore: "1772935260000",
            usedBefore: "2026-03-08T02:01:00Z", lastUsed: "2026-03-09T02:00:00Z", callId: c1)
        // Reading "excludes it": nonce and lastUsed = kraken-audit's own previous call (Kraken's clock 40 s off).
        let c2 = try f.apiCall(endpoint: "GetApiKeyInfo", at: "2026-03-10T02:00:00Z", nonce: 1_773_108_000_000)
        try f.keySnapshot(
            at: "2026-03-10T02:00:01Z", nonce: "1773021660000", requestNonce: "1773108000000", nonceBefore: "1773021660000",
            usedBefore: "2026-03-09T02:01:00Z", lastUsed: "2026-03-09T02:01:40Z", callId: c2)
        try f.analyse(["key_used_elsewhere"], now: Self.now)
        #expect(try f.findings("key_used_elsewhere").isEmpty)
    }
}
