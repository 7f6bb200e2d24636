import Analyser
import AuditConfig
import AuditStore
import Foundation
import Logging
import TestSupport

/// A migrated throw-away database with one account ("main", Europe/Berlin) and helpers that insert rows the way
/// the collector stores them (Kraken ids, asset keys, 10-decimal strings).
final class Fixture: @unchecked Sendable {
    let database: TestDatabase
    let db: PGConnection
    let accountId: Int
    static let catalogue: RuleCatalogue = {
        do { return try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules")) } catch {
            preconditionFailure("rule catalogue does not load: \(error)")  // test setup only
        }
    }()

    init(_ name: String) throws {
        database = try TestDatabase(name)
        db = try database.migrated()
        accountId = try AccountStore.ensure(on: db, name: "main")
    }

    /// A configuration with account `main` in Europe/Berlin, `[alerts] min_severity = "medium"` and `rules` appended.
    static func config(rules: String = "", alerts: Bool = true) throws -> AuditConfiguration {
        let text = """
            [ops]
            timezone = "Europe/Berlin"

            [[account]]
            name = "main"
            api_key_env = "KA_TEST_KEY"
            api_secret_env = "KA_TEST_SECRET"
            \(alerts ? "\n[alerts]\nhook = \"/bin/true\"\nmin_severity = \"medium\"\n" : "")
            \(rules)
            """
        return try ConfigLoader.parse(text, path: "test.toml")
    }

    func analyser(rules: String = "", alerts: Bool = true, overlapSeconds: Double = 600) throws -> Analyser {
        let config = try Self.config(rules: rules, alerts: alerts)
        return try Analyser(
            config: config, catalogue: Self.catalogue, logger: TestDatabase.logger,
            options: AnalyserOptions(overlapSeconds: overlapSeconds, alerts: AlertPolicy(config.alerts)))
    }

    /// Runs `rules` (all enabled rules when empty).
    @discardableResult
    func analyse(_ rules: [String] = [], config: String = "", since: Date? = nil, now: Date = Date()) throws -> AnalysisSummary {
        try analyser(rules: config).analyse(on: db, rules: rules.isEmpty ? nil : rules, since: since, now: now)
    }

    func findings(_ rule: String? = nil) throws -> [Finding] {
        try FindingStore.list(
            on: db, filter: FindingFilter(statuses: FindingStatus.allCases, ruleIds: rule.map { [$0] } ?? [], limit: 10_000))
    }

    // MARK: - rows

    static func t(_ iso: String) -> Date {
        guard let d = PGTimestamp.parse(iso) else { preconditionFailure("bad fixture time \(iso)") }
        return d
    }

    /// Kraken-style id: prefix + 6-5-6 uppercase alphanumerics, deterministic from `seed`.
    static func krakenId(_ prefix: String, _ seed: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var x = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678
        var chars: [Character] = []
        for _ in 0..<16 {
            x ^= x >> 29; x = x &* 0xBF58_476D_1CE4_E5B9; x ^= x >> 32
            chars.append(alphabet[Int(x % 32)])
        }
        let s = String(chars)
        return "\(prefix)\(s.prefix(5))-\(s.dropFirst(5).prefix(5))-\(s.suffix(6))"
    }

    func ledger(
        _ id: String, refid: String?, time: String, type: String, asset: String, amount: String, fee: String = "0.0000000000",
        balance: String, updatedAt: String? = nil
    ) throws {
        try db.execute(
            """
            INSERT INTO audit.ledger_entries (account_id, ledger_id, refid, time, type, asset, amount, fee, balance, raw,
                                              first_seen_at, updated_at)
            VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7::numeric, $8::numeric, $9::numeric,
                    jsonb_build_object('refid', $3::text, 'type', $5::text, 'asset', $6::text, 'amount', $7::text,
                                       'fee', $8::text, 'balance', $9::text),
                    coalesce($10::timestamptz, now()), coalesce($10::timestamptz, now()))
            """, [accountId, id, refid, time, type, asset, amount, fee, balance, updatedAt])
    }

    func trade(
        _ txid: String, order: String? = nil, pair: String = "XXBTZUSD", time: String, type: String = "buy",
        ordertype: String = "limit", price: String = "30010.0000000000", vol: String, updatedAt: String? = nil
    ) throws {
        try db.execute(
            """
            INSERT INTO audit.trades (account_id, txid, ordertxid, pair, time, type, ordertype, price, cost, fee, vol, raw,
                                      first_seen_at, updated_at)
            VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7, $8::numeric, round($8::numeric * $9::numeric, 10),
                    round($8::numeric * $9::numeric * 0.0016, 10), $9::numeric,
                    jsonb_build_object('ordertxid', $3::text, 'pair', $4::text, 'vol', $9::text, 'price', $8::text),
                    coalesce($10::timestamptz, now()), coalesce($10::timestamptz, now()))
            """, [accountId, txid, order, pair, time, type, ordertype, price, vol, updatedAt])
    }

    func order(
        _ txid: String, pair: String = "XBTUSD", opentm: String, closetm: String? = nil, type: String = "buy",
        ordertype: String = "limit", vol: String, status: String = "closed", trades: [String] = []
    ) throws {
        try db.execute(
            """
            INSERT INTO audit.orders (account_id, txid, status, opentm, closetm, descr_pair, descr_type, descr_ordertype,
                                      descr_order, vol, vol_exec, trades, raw)
            VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6, $7, $8, $7 || ' ' || $9 || ' ' || $6 || ' @ ' || $8,
                    $9::numeric, $9::numeric, $10::text[], '{}'::jsonb)
            """, [accountId, txid, status, opentm, closetm, pair, type, ordertype, vol, "{" + trades.joined(separator: ",") + "}"])
    }

    func withdrawal(
        _ refid: String, asset: String, amount: String, fee: String = "0.0002000000", time: String,
        address: String?, key: String?, status: String = "Success"
    ) throws {
        try db.execute(
            """
            INSERT INTO audit.withdrawals (account_id, refid, method, network, aclass, asset, txid, info, amount, fee, time,
                                           status, key, raw)
            VALUES ($1, $2, 'Bitcoin', 'Bitcoin', 'currency', $3, md5($2), $4, $5::numeric, $6::numeric, $7::timestamptz,
                    $8, $9, jsonb_build_object('refid', $2::text, 'info', $4::text, 'key', $9::text))
            """, [accountId, refid, asset, address, amount, fee, time, status, key])
    }

    @discardableResult
    func apiCall(
        endpoint: String = "Ledgers", at: String, errors: [String] = [], nonce: Int64 = 1_774_000_000_000,
        key: String = "sha256:0123456789abcdef"
    ) throws -> Int64 {
        let literal = "{" + errors.map { "\"\($0)\"" }.joined(separator: ",") + "}"
        return try db.query(
            """
            INSERT INTO audit.api_calls (account_id, key_fingerprint, endpoint, nonce, started_at, duration_ms, http_status,
                                         errors, error_kind)
            VALUES ($1, $2, $3, $4, $5::timestamptz, 120.5, 200, $6::text[], CASE WHEN $6::text[] = '{}' THEN NULL ELSE 'kraken' END)
            RETURNING id
            """, [accountId, key, endpoint, nonce, at, literal]
        ).rows[0].decode(0, as: Int64.self)
    }

    @discardableResult
    func collectorRun(command: String = "run", status: String, started: String, finished: String?, error: String? = nil) throws -> Int64 {
        try db.query(
            """
            INSERT INTO audit.collector_runs (command, account_id, started_at, finished_at, status, error)
            VALUES ($1, $2, $3::timestamptz, $4::timestamptz, $5, $6) RETURNING id
            """, [command, accountId, started, finished, status, error]
        ).rows[0].decode(0, as: Int64.self)
    }

    func apiKey(fingerprint: String = "sha256:0123456789abcdef", created: String?, firstSeen: String, lastUsed: String?) throws {
        try db.execute(
            """
            INSERT INTO audit.api_keys (account_id, name, key_fingerprint, key_created, first_seen_at, last_used_at)
            VALUES ($1, 'main', $2, $3::date, $4::timestamptz, $5::timestamptz)
            """, [accountId, fingerprint, created, firstSeen, lastUsed])
    }

    func scalar<T: PGDecodable>(_ sql: String, _ binds: [(any PGEncodable)?] = [], as: T.Type = T.self) throws -> T {
        try db.query(sql, binds).rows[0].decode(0, as: T.self)
    }
}

extension Finding {
    /// The evidence parsed.
    var evidenceObject: [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(evidence.utf8))) as? [String: Any]) ?? [:]
    }
}
