import AuditKernel
import AuditStore
import Foundation

/// Builds a ``Report`` from the database. Read-only.
public struct ReportBuilder: Sendable {
    /// The time zone the reports it builds are shown in.
    public let timezone: TimeZone

    /// A builder for reports shown in `timezone`.
    public init(timezone: TimeZone) { self.timezone = timezone }

    /// Report for `[since, until)` over `accounts` (names; empty = every account in the database).
    public func build(on db: PGConnection, since: Date, until: Date, accounts names: [String] = []) throws(PGError) -> Report {
        let accounts = try db.query(
            "SELECT id, name FROM audit.accounts WHERE cardinality($1::text[]) = 0 OR name = ANY($1::text[]) ORDER BY name",
            [textArray(names)]
        ).rows.map { row throws(PGError) in (try row.decode(0, as: Int.self), try row.decode(1, as: String.self)) }
        var out: [AccountReport] = []
        for (id, name) in accounts {
            out.append(try account(db, id: id, name: name, since: since, until: until))
        }
        return Report(generatedAt: Date(), timezone: timezone, since: since, until: until, accounts: out)
    }

    func account(_ db: PGConnection, id: Int, name: String, since: Date, until: Date) throws(PGError) -> AccountReport {
        let p: [(any PGEncodable)?] = [id, since, until]
        // Collection runs.
        let runs = try db.query(
            """
            SELECT count(*), count(*) FILTER (WHERE status = 'success'), count(*) FILTER (WHERE status IN ('failed', 'interrupted'))
              FROM audit.collector_runs WHERE account_id = $1 AND command IN ('collect', 'run') AND started_at >= $2 AND started_at < $3
            """, p
        ).rows[0]
        let lastSuccess = try db.query(
            "SELECT max(finished_at) FROM audit.collector_runs WHERE account_id = $1 AND command IN ('collect', 'run') AND status = 'success' AND finished_at < $2",
            [id, until]
        ).rows[0].decodeOptional(0, as: Date.self)
        let failures = try db.query(
            """
            SELECT started_at, coalesce(error, status) FROM audit.collector_runs
             WHERE account_id = $1 AND status IN ('failed', 'interrupted') AND started_at >= $2 AND started_at < $3
             ORDER BY started_at DESC LIMIT 20
            """, p
        ).rows.map { r throws(PGError) in (try r.decode(0, as: Date.self), try r.decode(1, as: String.self)) }
        let rowsAdded = try db.query(
            """
            SELECT e.key, sum((e.value->>'inserted')::bigint)::bigint FROM audit.collector_runs r, jsonb_each(r.stats) e
             WHERE r.account_id = $1 AND r.started_at >= $2 AND r.started_at < $3 AND jsonb_typeof(e.value) = 'object'
             GROUP BY e.key ORDER BY e.key
            """, p
        ).rows.map { r throws(PGError) in (try r.decode(0, as: String.self), try r.decode(1, as: Int.self)) }
        let collection = CollectionSummary(
            runs: try runs.decode(0), succeeded: try runs.decode(1), failed: try runs.decode(2), lastSuccess: lastSuccess,
            failures: failures, rowsAdded: rowsAdded, freshnessSeconds: lastSuccess.map { until.timeIntervalSince($0) })

        // Findings first seen in the period, or still open.
        let findings = try db.query(
            """
            SELECT id, rule_id, severity, status, title, entity_type, entity_id, first_seen, last_seen, occurred_at, evidence::text
              FROM audit.findings
             WHERE account_id = $1 AND ((first_seen >= $2 AND first_seen < $3) OR (last_seen >= $2 AND last_seen < $3))
             ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END, first_seen, id
            """, p
        ).rows.map { r throws(PGError) in
            FindingItem(
                id: try r.decode(0), ruleId: try r.decode(1), severity: try r.decode(2), status: try r.decode(3),
                title: try r.decode(4), entityType: try r.decodeOptional(5), entityId: try r.decodeOptional(6),
                firstSeen: try r.decode(7), lastSeen: try r.decode(8), occurredAt: try r.decodeOptional(9),
                evidence: (try? JSONValue.parse(try r.decode(10, as: String.self))) ?? .null)
        }

        func funding(_ table: String, _ hasKey: Bool) throws(PGError) -> [FundingItem] {
            try db.query(
                """
                SELECT refid, time, asset, amount::text, fee::text, info, \(hasKey ? "key" : "NULL::text"), status, method
                  FROM audit.\(table) WHERE account_id = $1 AND time >= $2 AND time < $3 ORDER BY time, refid
                """, p
            ).rows.map { r throws(PGError) in
                FundingItem(
                    refid: try r.decode(0), time: try r.decode(1), asset: try r.decode(2), amount: try r.decode(3),
                    fee: try r.decodeOptional(4), address: try r.decodeOptional(5), addressName: try r.decodeOptional(6),
                    status: try r.decode(7), method: try r.decodeOptional(8))
            }
        }

        let trading = try db.query(
            """
            SELECT pair, count(*), sum(vol)::text, sum(cost)::text, sum(fee)::text FROM audit.trades
             WHERE account_id = $1 AND time >= $2 AND time < $3 GROUP BY pair ORDER BY pair
            """, p
        ).rows.map { r throws(PGError) in
            PairActivity(
                pair: try r.decode(0), trades: try r.decode(1), volume: try r.decode(2), cost: try r.decode(3), fees: try r.decode(4))
        }
        let volumePerDay = try db.query(
            """
            SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), pair, sum(cost)::text FROM audit.trades
             WHERE account_id = $1 AND time >= $2 AND time < $3 GROUP BY 1, 2 ORDER BY 1, 2
            """, p
        ).rows.map { r throws(PGError) in
            (day: try r.decode(0, as: String.self), pair: try r.decode(1, as: String.self), cost: try r.decode(2, as: String.self))
        }

        // Balance per asset at the period's start and end from the ledger's running balance, and flows between.
        let balances = try db.query(
            """
            WITH assets AS (SELECT DISTINCT asset FROM audit.ledger_entries WHERE account_id = $1 AND time < $3)
            SELECT a.asset,
                   coalesce((SELECT balance FROM audit.ledger_entries WHERE account_id = $1 AND asset = a.asset AND time < $2 ORDER BY time DESC, ledger_id DESC LIMIT 1), 0)::text,
                   coalesce((SELECT balance FROM audit.ledger_entries WHERE account_id = $1 AND asset = a.asset AND time < $3 ORDER BY time DESC, ledger_id DESC LIMIT 1), 0)::text,
                   coalesce((SELECT sum(amount) FROM audit.ledger_entries WHERE account_id = $1 AND asset = a.asset AND time >= $2 AND time < $3), 0)::text,
                   coalesce((SELECT sum(fee) FROM audit.ledger_entries WHERE account_id = $1 AND asset = a.asset AND time >= $2 AND time < $3), 0)::text
              FROM assets a ORDER BY a.asset
            """, p
        ).rows.map { r throws(PGError) in
            BalanceChange(
                asset: try r.decode(0), start: try r.decode(1), end: try r.decode(2), netFlows: try r.decode(3), fees: try r.decode(4))
        }.filter { $0.start != "0" || $0.end != "0" || $0.netFlows != "0" }

        let usage = try db.query(
            """
            SELECT count(*), count(*) FILTER (WHERE error_kind IS NOT NULL), max(counter_after)
              FROM audit.api_calls WHERE account_id = $1 AND started_at >= $2 AND started_at < $3
            """, p
        ).rows[0]
        let byEndpoint = try db.query(
            "SELECT endpoint, count(*) FROM audit.api_calls WHERE account_id = $1 AND started_at >= $2 AND started_at < $3 GROUP BY 1 ORDER BY 1",
            p
        ).rows.map { r throws(PGError) in (try r.decode(0, as: String.self), try r.decode(1, as: Int.self)) }
        let byKind = try db.query(
            "SELECT error_kind, count(*) FROM audit.api_calls WHERE account_id = $1 AND started_at >= $2 AND started_at < $3 AND error_kind IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
            p
        ).rows.map { r throws(PGError) in (try r.decode(0, as: String.self), try r.decode(1, as: Int.self)) }
        let perHour = try db.query(
            "SELECT date_trunc('hour', started_at), count(*) FROM audit.api_calls WHERE account_id = $1 AND started_at >= $2 AND started_at < $3 GROUP BY 1 ORDER BY 1",
            p
        ).rows.map { r throws(PGError) in (try r.decode(0, as: Date.self), try r.decode(1, as: Int.self)) }
        let pacingNotes = try db.query(
            """
            SELECT 'key behaves like ' || learned_label || ', config says ' || learned_config_label || ' (key ' || key_fingerprint
                   || ', learned ' || to_char(learned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC after ' || learned_reason
                   || '): collection is paced as ' || learned_label
              FROM audit.api_keys WHERE account_id = $1 AND learned_max IS NOT NULL ORDER BY key_fingerprint
            """, [id]
        ).rows.map { r throws(PGError) in try r.decode(0, as: String.self) }
        let api = APIUsage(
            calls: try usage.decode(0), errors: try usage.decode(1), callsByEndpoint: byEndpoint, errorsByKind: byKind,
            peakCounter: try usage.decodeOptional(2), callsPerHour: perHour, pacingNotes: pacingNotes)

        return AccountReport(
            name: name, collection: collection, findings: findings, withdrawals: try funding("withdrawals", true),
            deposits: try funding("deposits", false), trading: trading, balances: balances, apiUsage: api,
            volumePerDay: volumePerDay)
    }

    func textArray(_ values: [String]) -> String {
        "{"
            + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
