import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import Logging

/// Runs the rules of `sql/rules` over the collected data and keeps `audit.findings` current.
///
/// Incremental: per account and rule, `audit.analysis_state` remembers the point up to which rows were analysed;
/// the next run binds `:'changed_after'` to that point minus ``AnalyserOptions/overlapSeconds``, and each rule looks
/// back as far as it needs (baselines, predecessors) through indexes. Changing a rule's SQL or parameters makes its
/// next run start from scratch.
///
/// Deduplication: findings are upserted by their `dedupe_key`. A re-detected finding keeps its id, status and
/// `first_seen`; `last_seen`, evidence, title and severity are refreshed, and `occurrences` counts the problem's
/// occurrences (the rule's own `occurrences` column when it returns one, else +1 whenever `occurred_at` moves
/// forward). Suppressed and acknowledged findings stay so. A resolved finding reopens only when the rule reports it
/// with an `occurred_at` later than the resolution (new evidence: a burst that continued, a key still too old);
/// re-analysing the same old rows never reopens it. A finding the analyser resolved itself reopens whenever the
/// rule reports it again (the condition holds again).
///
/// Automatic resolution: a rule with `-- resolves: when_absent` checks a state and returns every condition that
/// holds for the account on each run. After such a rule ran (without `--since`), the account's open and
/// acknowledged findings of that rule it did not return are resolved by the analyser in the same transaction
/// (`status_changed_by` = `analyser`, recorded in `audit.finding_events` with the run id). Suppressed findings
/// stay so. A rule that fails or is deferred resolves nothing.
///
/// Alerts: in the same transaction as the upsert, open findings at or above ``AlertPolicy/minSeverity`` that were
/// never announced (or were reopened since their last announcement) get an `alert_outbox` row with event `new`.
/// Re-notifications (`renotify_after_hours`) and resolutions (`notify_resolved`) are queued by the Alerts module.
public struct Analyser: Sendable {
    /// Advisory lock held during a run ("krak" "ana").
    public static let lockKey: Int64 = 0x6B72_616B_0061_6E61

    public let catalogue: RuleCatalogue
    public let settings: [RuleSettings]
    public let options: AnalyserOptions
    let accounts: [(name: String, timezone: String)]
    let defaultTimezone: String
    let logger: Logger

    /// Validates the `[rules.*]` tables of `config` against `catalogue` (unknown rule or parameter, wrong type and
    /// bad values are ``AnalyserError/config(_:)`` naming the key path).
    /// - Parameter options: defaults to an overlap of 10 minutes and the alert policy of `config.alerts`.
    public init(config: AuditConfiguration, catalogue: RuleCatalogue, logger: Logger, options: AnalyserOptions? = nil) throws(AnalyserError)
    {
        do {
            self.settings = try ruleSettings(catalogue: catalogue, config: config.rules)
        } catch {
            throw .config(error)
        }
        self.catalogue = catalogue
        self.options = options ?? AnalyserOptions(alerts: AlertPolicy(config.alerts))
        self.accounts = config.accounts.map { ($0.name, $0.timezone) }
        self.defaultTimezone = config.ops.timezone
        self.logger = logger
    }

    /// Analyses the collected data.
    /// - Parameters:
    ///   - accounts: account names (default: every configured account; with none configured, every account in the
    ///     database, in `[ops] timezone`).
    ///   - rules: rule ids (default: every enabled rule).
    ///   - since: analyse every row whose event time is at or after this, ignoring the incremental state (which is
    ///     then left unchanged); nil analyses the rows changed since the last run.
    ///   - now: the analysis time bound to `:'now'` (staleness, key age).
    /// - Returns: counts per account and rule. A rule whose SQL fails is rolled back and reported in
    ///   ``AnalysisSummary/failures``; the others still run.
    public func analyse(
        on db: PGConnection, accounts: [String]? = nil, rules: [String]? = nil, since: Date? = nil, now: Date = Date()
    ) throws(AnalyserError) -> AnalysisSummary {
        let started = Date()
        let selected = try selectRules(rules)
        let targets = try resolveAccounts(accounts, on: db)
        let locked = try analyserErrors { try db.tryAdvisoryLock(Self.lockKey) }
        guard locked else { throw .alreadyRunning }
        defer { _ = try? db.advisoryUnlock(Self.lockKey) }

        let runId: Int64 = try analyserErrors {
            try RunLog.start(
                on: db, command: "analyse",
                stats: .object([
                    ("accounts", .string(targets.map(\.name).joined(separator: ","))),
                    ("rules", .string(selected.map(\.rule.id).joined(separator: ","))),
                    ("since", since.map { .string($0.pgText) } ?? .null),
                ]))
        }
        var summary = AnalysisSummary(runId: runId, results: [], seconds: 0)
        for account in targets {
            let incomplete = try incompleteCollection(accountId: account.id, on: db)
            for setting in selected {
                var result = RuleResult(account: account.name, ruleId: setting.rule.id)
                if setting.rule.input == .collected, let incomplete {
                    result.deferred = incomplete
                    logger.notice(
                        "rule deferred until a collection of the account completes",
                        metadata: ["rule": "\(setting.rule.id)", "account": "\(account.name)", "reason": "\(incomplete)"])
                    summary.results.append(result)
                    continue
                }
                let t0 = Date()
                do {
                    try db.transaction { () throws in
                        try run(setting, account: account, runId: runId, since: since, now: now, on: db, result: &result)
                    }
                } catch let error as PGError where error.isConnectionFailure {
                    throw .database(error)
                } catch {
                    result.failure = "\(error)"
                    logger.error(
                        "rule failed; its window will be analysed again next run",
                        metadata: ["rule": "\(setting.rule.id)", "account": "\(account.name)", "error": "\(error)"])
                }
                result.seconds = Date().timeIntervalSince(t0)
                logger.info(
                    "rule analysed",
                    metadata: [
                        "rule": "\(setting.rule.id)", "account": "\(account.name)", "new": "\(result.new)",
                        "updated": "\(result.updated)", "reopened": "\(result.reopened)", "resolved": "\(result.resolved)",
                        "alerts": "\(result.alertsQueued)",
                        "changed_after": "\(result.changedAfter)", "seconds": "\(String(format: "%.3f", result.seconds))",
                    ])
                summary.results.append(result)
            }
        }
        summary.seconds = Date().timeIntervalSince(started)
        _ = try? RunLog.finish(
            on: db, id: runId, status: summary.failures.isEmpty ? .success : .partial,
            error: summary.failures.first.map { "\($0.ruleId)/\($0.account): \($0.failure ?? "")" },
            stats: .object([
                ("new", .number(String(summary.newFindings))), ("updated", .number(String(summary.updatedFindings))),
                ("reopened", .number(String(summary.reopenedFindings))), ("alerts", .number(String(summary.alertsQueued))),
                ("seconds", .number(String(summary.seconds))), ("resolved", .number(String(summary.resolvedFindings))),
            ]),
            mergeStats: true)
        return summary
    }

    /// Why the account's collected rows are not a consistent copy of Kraken's, or nil when they are: its latest
    /// collection run (`collect` or `run`) failed, was interrupted or is still running. The collector stores each
    /// page as it arrives, newest first, so such a run leaves the newest rows without the older ones before them and
    /// withdrawals without their WithdrawStatus records: rules over those rows would report gaps, "first" withdrawals
    /// and missing destinations that are not there. An account never collected (rows from elsewhere) is analysed.
    func incompleteCollection(accountId: Int, on db: PGConnection) throws(AnalyserError) -> String? {
        try analyserErrors {
            guard
                let row = try db.query(
                    """
                    SELECT id, status, coalesce(error, '') FROM audit.collector_runs
                     WHERE account_id = $1 AND command IN ('collect', 'run')
                     ORDER BY started_at DESC, id DESC LIMIT 1
                    """, [accountId]
                ).rows.first
            else { return nil }
            let status = try row.decode(1, as: String.self)
            guard status != "success" else { return nil }
            let id = try row.decode(0, as: Int64.self)
            let error = try row.decode(2, as: String.self)
            return "the latest collection run \(id) is \(status)\(error.isEmpty ? "" : ": \(error)")"
        }
    }

    func selectRules(_ ids: [String]?) throws(AnalyserError) -> [RuleSettings] {
        guard let ids, !ids.isEmpty else { return settings.filter(\.enabled) }
        var out: [RuleSettings] = []
        for id in ids {
            guard let s = settings.first(where: { $0.rule.id == id }) else {
                throw .unknownRule(id: id, known: catalogue.rules.map(\.id))
            }
            guard s.enabled else { throw .ruleDisabled(id: id) }
            if !out.contains(where: { $0.rule.id == id }) { out.append(s) }
        }
        return out
    }

    func resolveAccounts(_ names: [String]?, on db: PGConnection) throws(AnalyserError) -> [(id: Int, name: String, timezone: String)] {
        var wanted: [(name: String, timezone: String)]
        if self.accounts.isEmpty {
            let rows = try analyserErrors { try db.query("SELECT name FROM audit.accounts ORDER BY name").rows }
            let tz = defaultTimezone
            wanted = try analyserErrors { try rows.map { row throws(PGError) in (try row.decode(0, as: String.self), tz) } }
        } else {
            wanted = self.accounts
        }
        if let names, !names.isEmpty {
            var picked: [(name: String, timezone: String)] = []
            for n in names {
                guard let a = wanted.first(where: { $0.name == n }) else { throw .unknownAccount(name: n, known: wanted.map(\.name)) }
                picked.append(a)
            }
            wanted = picked
        }
        return try analyserErrors {
            try wanted.map { (id: try AccountStore.ensure(on: db, name: $0.name), name: $0.name, timezone: $0.timezone) }
        }
    }

    /// One rule on one account, inside the caller's transaction.
    func run(
        _ setting: RuleSettings, account: (id: Int, name: String, timezone: String), runId: Int64, since: Date?, now: Date,
        on db: PGConnection, result: inout RuleResult
    ) throws {
        let rule = setting.rule
        let timezone = setting.timezone(forAccount: account.timezone)
        let checksum = setting.checksum(timezone: timezone)
        // The mark: now, or the start of the oldest other transaction still open (its rows are not visible yet and
        // carry updated_at >= its start), so the next run's window covers them.
        let window = try db.query(
            """
            SELECT least(now(), coalesce((SELECT min(xact_start) FROM pg_stat_activity
                                           WHERE datname = current_database() AND pid <> pg_backend_pid()
                                             AND backend_type = 'client backend'
                                             AND xact_start IS NOT NULL), now()))::text AS mark,
                   (s.analysed_until - make_interval(secs => $3::double precision))::text AS changed_after,
                   s.rule_checksum
              FROM (SELECT 1) one
              LEFT JOIN audit.analysis_state s ON s.account_id = $1 AND s.rule_id = $2
            """, [account.id, rule.id, options.overlapSeconds])
        guard let w = window.rows.first else { throw PGError(kind: .query, message: "no window row") }
        let mark = try w.decode("mark", as: String.self)
        let previous = try w.decodeOptional("changed_after", as: String.self)
        let previousChecksum = try w.decodeOptional("rule_checksum", as: String.self)
        let changedAfter: String
        if since != nil {
            changedAfter = "-infinity"
        } else if let previous, previousChecksum == checksum {
            changedAfter = previous
        } else {
            changedAfter = "-infinity"
            if previous != nil {
                logger.notice(
                    "rule or its parameters changed since the last run: analysing from scratch",
                    metadata: ["rule": "\(rule.id)", "account": "\(account.name)"])
            }
        }
        result.changedAfter = changedAfter
        let occurredAfter = since?.pgText ?? "-infinity"

        var binds: [(any PGEncodable)?] = setting.bindValues(
            accountId: account.id, changedAfter: changedAfter, occurredAfter: occurredAfter, now: now, timezone: timezone)
        let n = binds.count
        binds.append(rule.id)  // $n+1
        binds.append(setting.severityOverride?.rawValue)  // $n+2
        binds.append(runId)  // $n+3
        let ruleParam = "$\(n + 1)"
        let severityParam = "$\(n + 2)"
        let runParam = "$\(n + 3)"
        // A resolved finding reopens on newer evidence; one the analyser resolved itself (its condition had
        // cleared, `resolves: when_absent`) whenever it is reported again: the rule reports only what holds now.
        let reopens = "f.status = 'resolved' AND (EXCLUDED.occurred_at > f.status_changed_at OR f.status_changed_by = 'analyser')"
        let upsert = """
            WITH hits AS (
            \(rule.statement)
            ),
            picked AS (
                SELECT DISTINCT ON (key) h.*
                  FROM (SELECT h.*, CASE WHEN starts_with(h.dedupe_key, \(ruleParam)::text || ':') THEN h.dedupe_key
                                         ELSE \(ruleParam)::text || ':' || h.dedupe_key END AS key,
                               -- The optional `occurrences` column (the rule counts the occurrences itself);
                               -- NULL when the rule has none.
                               (to_jsonb(h) ->> 'occurrences')::integer AS counted_occurrences
                          FROM hits h) h
                 ORDER BY key, occurred_at DESC NULLS LAST
            ),
            prev AS (
                SELECT f.id, f.dedupe_key, f.status FROM audit.findings f JOIN picked p ON p.key = f.dedupe_key
            ),
            up AS (
                INSERT INTO audit.findings AS f
                       (rule_id, severity, account_id, entity_type, entity_id, api_call_ids, title, evidence, dedupe_key,
                        first_seen, last_seen, occurred_at, last_run_id, occurrences)
                SELECT \(ruleParam)::text, coalesce(\(severityParam)::text, p.severity), p.account_id, p.entity_type,
                       p.entity_id, coalesce(p.api_call_ids, '{}'), p.title, coalesce(p.evidence, '{}'), p.key,
                       now(), now(), p.occurred_at, \(runParam)::bigint, coalesce(p.counted_occurrences, 1)
                  FROM picked p
                ON CONFLICT (dedupe_key) DO UPDATE
                   SET severity = EXCLUDED.severity, entity_type = EXCLUDED.entity_type, entity_id = EXCLUDED.entity_id,
                       api_call_ids = EXCLUDED.api_call_ids, title = EXCLUDED.title, evidence = EXCLUDED.evidence,
                       last_seen = EXCLUDED.last_seen, occurred_at = EXCLUDED.occurred_at,
                       last_run_id = EXCLUDED.last_run_id, detections = f.detections + 1,
                       occurrences = coalesce(
                           (SELECT c.counted_occurrences FROM picked c WHERE c.key = f.dedupe_key),
                           CASE WHEN EXCLUDED.occurred_at > f.occurred_at THEN f.occurrences + 1 ELSE f.occurrences END),
                       status = CASE WHEN \(reopens) THEN 'open' ELSE f.status END,
                       status_note = CASE WHEN \(reopens)
                                          THEN 'reopened: detected again after it was resolved' ELSE f.status_note END,
                       status_changed_by = CASE WHEN \(reopens) THEN 'analyser' ELSE f.status_changed_by END,
                       status_changed_at = CASE WHEN \(reopens) THEN now() ELSE f.status_changed_at END
                RETURNING f.id, f.dedupe_key, f.severity, f.status
            ),
            events AS (
                INSERT INTO audit.finding_events (finding_id, old_status, new_status, note, changed_by, run_id)
                SELECT u.id, p.status, u.status, 'reopened: detected again after it was resolved', 'analyser', \(runParam)::bigint
                  FROM up u JOIN prev p ON p.dedupe_key = u.dedupe_key
                 WHERE p.status = 'resolved' AND u.status = 'open'
                RETURNING finding_id
            )
            SELECT u.id, u.severity, (p.id IS NULL) AS inserted, (p.status = 'resolved' AND u.status = 'open') AS reopened
              FROM up u LEFT JOIN prev p ON p.dedupe_key = u.dedupe_key
            """
        let rows = try db.query(upsert, binds).rows
        var ids: [Int64] = []
        ids.reserveCapacity(rows.count)
        for row in rows {
            ids.append(try row.decode(0, as: Int64.self))
            let severity = Severity(rawValue: try row.decode(1, as: String.self)) ?? .info
            if try row.decode(2, as: Bool.self) {
                result.newBySeverity[severity, default: 0] += 1
            } else {
                result.updated += 1
                if try row.decode(3, as: Bool.self) { result.reopened += 1 }
            }
        }
        result.detected = rows.count

        if rule.resolves == .whenAbsent, since == nil {
            result.resolved = try resolveAbsent(rule: rule, accountId: account.id, reported: ids, runId: runId, on: db)
        }

        if let alerts = options.alerts, !ids.isEmpty {
            result.alertsQueued = try db.execute(
                """
                INSERT INTO audit.alert_outbox (finding_id, event, run_id, severity)
                SELECT f.id, 'new', $2, f.severity
                  FROM audit.findings f
                 WHERE f.id = ANY ($1::bigint[]) AND f.status = 'open'
                   AND audit.severity_rank(f.severity) >= audit.severity_rank($3)
                   AND NOT EXISTS (SELECT 1 FROM audit.alert_outbox o
                                    WHERE o.finding_id = f.id AND o.event IN ('new', 'renotify')
                                      AND o.created_at >= coalesce(f.status_changed_at, '-infinity'))
                """,
                ["{" + ids.map(String.init).joined(separator: ",") + "}", runId, alerts.minSeverity.rawValue])
        }

        if since == nil {
            try db.execute(
                """
                INSERT INTO audit.analysis_state (account_id, rule_id, analysed_until, rule_checksum, last_run_id, updated_at)
                VALUES ($1, $2, $3::timestamptz, $4, $5, now())
                ON CONFLICT (account_id, rule_id) DO UPDATE
                   SET analysed_until = EXCLUDED.analysed_until, rule_checksum = EXCLUDED.rule_checksum,
                       last_run_id = EXCLUDED.last_run_id, updated_at = now()
                """, [account.id, rule.id, mark, checksum, runId])
        }
    }

    /// Resolves the account's open and acknowledged findings of a `resolves: when_absent` rule that this run did
    /// not report (`reported`: the ids it did), inside the caller's transaction. Each gets a `finding_events` row
    /// by `analyser` with the run id; `last_run_id` becomes this run, so `[alerts] notify_resolved` groups the
    /// resolution notices of one analysis together. Returns how many were resolved.
    func resolveAbsent(rule: Rule, accountId: Int, reported: [Int64], runId: Int64, on db: PGConnection) throws -> Int {
        let note = "resolved automatically: \(rule.id) no longer reports this condition"
        let rows = try db.query(
            """
            WITH gone AS (
                SELECT f.id, f.status FROM audit.findings f
                 WHERE f.rule_id = $1 AND f.account_id = $2 AND f.status IN ('open', 'acknowledged')
                   AND NOT (f.id = ANY ($3::bigint[]))
                   FOR UPDATE
            ),
            changed AS (
                UPDATE audit.findings f
                   SET status = 'resolved', status_note = $4, status_changed_by = 'analyser', status_changed_at = now(),
                       last_run_id = $5
                  FROM gone g WHERE f.id = g.id
                RETURNING f.id
            ),
            events AS (
                INSERT INTO audit.finding_events (finding_id, old_status, new_status, note, changed_by, run_id)
                SELECT g.id, g.status, 'resolved', $4, 'analyser', $5 FROM gone g
                RETURNING finding_id
            )
            SELECT (SELECT count(*) FROM changed)::integer, (SELECT count(*) FROM events)::integer
            """,
            [rule.id, accountId, "{" + reported.map(String.init).joined(separator: ",") + "}", note, runId]
        ).rows
        return try rows.first?.decode(0, as: Int.self) ?? 0
    }
}
