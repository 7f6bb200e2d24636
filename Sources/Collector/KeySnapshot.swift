import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// The key's posture on every run: one `GetApiKeyInfo` call per key and collection run (paced and logged like
/// every call), its answer kept in `audit.api_key_snapshots` (migration 0009) for the rules `key_posture`,
/// `key_changed` and `key_used_elsewhere`. The same answer decides an automatic export backfill on a first run,
/// so the key is asked once.
///
/// GetApiKeyInfo needs no permission and carries no secret (../shared/kraken-api.md §3.11); its `apiKey` (the
/// public key string) is left out of the stored answer, as kraken-audit stores keys only by fingerprint.
struct KeySnapshot {
    let accountId: Int
    let paced: PacedClient
    let store: any PGRunner
    let logger: Logger

    /// What taking the snapshot did.
    struct Outcome {
        /// Kraken's answer, nil when the call failed (the run goes on: the calls that follow will say why).
        var info: JSONValue?
        var stats = EndpointStats()
    }

    /// Calls GetApiKeyInfo and stores the answer. A failure of this method alone (``methodOnly``, a malformed answer)
    /// is logged and leaves no snapshot, the run goes on; any other failure stops the run as any call's would.
    func take() async throws(CollectError) -> Outcome {
        var outcome = Outcome()
        let (fingerprint, accountId, runId) = (paced.fingerprint, self.accountId, paced.runId)
        // What kraken-audit had done with the key before this call: key_used_elsewhere compares Kraken's answer
        // with it (read before the call, so this call's own nonce is not part of it).
        let before: (nonce: Int64?, used: Date?) = try await store.collectRun { db in
            guard
                let r = try db.query("SELECT last_nonce, last_used_at FROM audit.api_keys WHERE key_fingerprint = $1", [fingerprint]).rows
                    .first
            else { return (nil, nil) }
            return (try r.decodeOptional(0, as: Int64.self), try r.decodeOptional(1, as: Date.self))
        }
        let response: KrakenResponse
        do {
            response = try await paced.call("GetApiKeyInfo")
        } catch {
            // Only what concerns this method alone lets the run go on (a Kraken without the method, or refusing it);
            // a key, nonce, rate or transport failure would fail every call after it too, so it stops the run here
            // like any call's (and says why, e.g. EAPI:Invalid nonce).
            let methodOnly: Bool
            switch error {
            case .kraken(let e, _): methodOnly = e.kind.map(Self.methodOnly.contains) == true
            case .malformed: methodOnly = true
            default: methodOnly = false
            }
            guard methodOnly else { throw error }
            outcome.stats.calls = 1
            logger.warning(
                "could not read the key's settings (GetApiKeyInfo); no posture snapshot this run", metadata: ["error": "\(error)"])
            return outcome
        }
        outcome.stats.calls = 1
        outcome.info = response.result
        let row: Row
        do {
            row = try Row(response.result)
        } catch {
            logger.warning(
                "GetApiKeyInfo answered in a shape kraken-audit cannot store; no posture snapshot this run",
                metadata: ["reason": "\(error.reason)"])
            return outcome
        }
        try await store.collectRun { db in
            // This call's own row in the call log (written by the paced client before it returned).
            let call = try db.query(
                """
                SELECT id, nonce FROM audit.api_calls
                 WHERE key_fingerprint = $1 AND endpoint = 'GetApiKeyInfo' AND error_kind IS NULL
                 ORDER BY id DESC LIMIT 1
                """, [fingerprint]
            ).rows.first
            let callId = try call?.decodeOptional(0, as: Int64.self)
            let nonce = try call?.decodeOptional(1, as: Int64.self)
            try db.execute(
                """
                INSERT INTO audit.api_key_snapshots (account_id, key_fingerprint, run_id, api_call_id, request_nonce,
                    audit_nonce_before, audit_used_before, key_name, permissions, ip_allowlist, nonce_window, valid_until,
                    query_from, query_to, created_time, modified_time, last_used, nonce, raw)
                VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7, $8, $9::text[], $10::text[], $11::numeric,
                    to_timestamp($12::numeric), to_timestamp($13::numeric), to_timestamp($14::numeric),
                    to_timestamp($15::numeric), to_timestamp($16::numeric), to_timestamp($17::numeric), $18::numeric, $19::jsonb)
                """,
                [
                    accountId, fingerprint, runId, callId, nonce, before.nonce, before.used, row.name,
                    PGArray.text(row.permissions), PGArray.text(row.ipAllowlist), row.nonceWindow, row.validUntil,
                    row.queryFrom, row.queryTo, row.createdTime, row.modifiedTime, row.lastUsed, row.nonce, row.raw,
                ])
        }
        outcome.stats.rows = UpsertCount(inserted: 1, updated: 0)
        logger.info(
            "key settings recorded",
            metadata: [
                "key": "\(fingerprint)", "permissions": "\(row.permissions.joined(separator: ","))",
                "ip_allowlist": "\(row.ipAllowlist.count) entries", "nonce_window": "\(row.nonceWindow)",
            ])
        return outcome
    }

    /// Kraken errors about GetApiKeyInfo itself rather than the key or the connection.
    static let methodOnly: Set<KrakenErrorString.Kind> = [.permissionDenied, .unknownMethod, .invalidArguments, .other]

    /// Why an answer cannot be stored.
    struct ShapeError: Error {
        let reason: String
    }

    /// One answer, checked and in the form the table takes (times as Unix seconds text, nil when unset).
    struct Row: Sendable {
        var name: String?
        var permissions: [String]
        var ipAllowlist: [String]
        var nonceWindow: String
        var validUntil: String?
        var queryFrom: String?
        var queryTo: String?
        var createdTime: String?
        var modifiedTime: String?
        var lastUsed: String?
        var nonce: String?
        /// The answer without `apiKey`.
        var raw: String

        init(_ result: JSONValue) throws(ShapeError) {
            guard let members = result.objectMembers else { throw ShapeError(reason: "result is not an object") }
            func strings(_ key: String) throws(ShapeError) -> [String] {
                guard let v = result[key], v != .null else { return [] }
                guard let list = v.arrayValue else { throw ShapeError(reason: "'\(key)' is not an array") }
                var out: [String] = []
                for item in list {
                    guard let s = item.stringValue else { throw ShapeError(reason: "'\(key)' holds a non-string") }
                    out.append(s)
                }
                return out
            }
            guard result["permissions"]?.arrayValue != nil else { throw ShapeError(reason: "no 'permissions' array") }
            permissions = try strings("permissions").sorted()
            ipAllowlist = try strings("ipAllowlist").sorted()
            name = result["apiKeyName"]?.stringValue
            nonceWindow = try Self.integer(result["nonceWindow"], key: "nonceWindow") ?? "0"
            nonce = try Self.integer(result["nonce"], key: "nonce")
            validUntil = try Self.seconds(result["validUntil"], key: "validUntil")
            queryFrom = try Self.seconds(result["queryFrom"], key: "queryFrom")
            queryTo = try Self.seconds(result["queryTo"], key: "queryTo")
            createdTime = try Self.seconds(result["createdTime"], key: "createdTime")
            modifiedTime = try Self.seconds(result["modifiedTime"], key: "modifiedTime")
            lastUsed = try Self.seconds(result["lastUsed"], key: "lastUsed")
            raw = JSONValue.object(members.filter { $0.0 != "apiKey" }).jsonText
        }

        /// A non-negative whole number sent as a string or a number (Kraken sends `nonce` as a string and
        /// `nonceWindow` as a number); nil when absent or null.
        static func integer(_ v: JSONValue?, key: String) throws(ShapeError) -> String? {
            guard let v, v != .null else { return nil }
            guard let text = v.stringValue ?? v.numberText, !text.isEmpty, text.count <= 20, text.allSatisfy({ $0.isASCII && $0.isNumber })
            else { throw ShapeError(reason: "'\(key)' is not a whole number") }
            return text
        }

        /// Unix seconds sent as a string (`"1772542900"`) or a number; "0" and null mean unset (nil).
        static func seconds(_ v: JSONValue?, key: String) throws(ShapeError) -> String? {
            guard let v, v != .null else { return nil }
            guard let text = v.stringValue ?? v.numberText, let value = Double(text), value.isFinite, value >= 0,
                value < 253_402_300_800,  // 10000-01-01: PostgreSQL's to_timestamp range and then some
                text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") })
            else { throw ShapeError(reason: "'\(key)' is not a Unix time") }
            return value == 0 ? nil : text
        }
    }
}
