import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// Delivers the alert outbox through the configured hook: one call per (analysis run, account) group, JSON on
/// stdin, retried with backoff until the hook exits 0, never re-sent after success. Each group carries a
/// `delivery_id` fixed before the first attempt, so a hook that saw a delivery before a crash can drop the
/// duplicate (at-least-once with dedupe).
public struct AlertDelivery: Sendable {
    /// The JSON schema's name and version, written into every payload the hook reads.
    public static let payloadSchema = "kraken-audit.alert/1"
    static let lockKey: Int64 = 0x6B72_616B_0061_6C74  // "krak" "alt"

    let config: AlertsConfig
    let timezone: TimeZone
    let environment: [String: String]
    let logger: Logger

    /// `environment` is kraken-audit's own; only `ALERT_*` variables (the hook's own settings) and a minimal
    /// PATH/LANG pass to the hook. Secrets never do.
    public init(
        config: AlertsConfig, timezone: TimeZone, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger
    ) {
        self.config = config
        self.timezone = timezone
        self.environment = environment
        self.logger = logger
    }

    /// The hook's environment.
    public func hookEnvironment(extra: [String: String]) -> [String: String] {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        for (k, v) in environment where k.hasPrefix("ALERT_") { env[k] = v }
        for (k, v) in extra { env[k] = v }
        return env
    }

    func checkHook() throws(AlertError) {
        guard access(config.hook, X_OK) == 0 else { throw .hookNotExecutable(config.hook) }
    }

    /// Delivers what is due. Safe to run concurrently (one pass at a time per database) and repeatedly.
    /// - Parameter now: what counts as now for retry schedules (tests move it forward); default the database clock.
    public func deliverPending(on db: PGConnection, now: Date? = nil) throws(AlertError) -> DeliverySummary {
        try checkHook()
        var summary = DeliverySummary()
        do {
            guard try db.tryAdvisoryLock(Self.lockKey) else {
                summary.skippedLocked = true
                return summary
            }
            defer { _ = try? db.advisoryUnlock(Self.lockKey) }
            try enqueueRenotifications(db)
            // Fix the grouping and delivery ids first (one transaction), so retries re-send the same id.
            try db.execute(
                """
                WITH groups AS (
                    SELECT run_id, account_id, 'dlv-' || first_id || '-' || substr(md5(random()::text || first_id), 1, 8) AS delivery_id
                      FROM (SELECT o.run_id, f.account_id, min(o.id) AS first_id
                              FROM audit.alert_outbox o JOIN audit.findings f ON f.id = o.finding_id
                             WHERE o.delivered_at IS NULL AND o.delivery_id IS NULL
                             GROUP BY o.run_id, f.account_id) x
                )
                UPDATE audit.alert_outbox o SET delivery_id = g.delivery_id
                  FROM groups g, audit.findings f
                 WHERE f.id = o.finding_id AND o.delivered_at IS NULL AND o.delivery_id IS NULL
                   AND o.run_id IS NOT DISTINCT FROM g.run_id AND f.account_id IS NOT DISTINCT FROM g.account_id
                """)
            let due = try db.query(
                """
                SELECT DISTINCT delivery_id FROM audit.alert_outbox
                 WHERE delivered_at IS NULL AND next_attempt_at <= coalesce($1::timestamptz, clock_timestamp()) ORDER BY delivery_id
                """, [now]
            ).rows.map { try $0.decode(0, as: String.self) }
            for deliveryId in due {
                let (payload, env) = try payload(db, deliveryId: deliveryId)
                summary.calls += 1
                let result = HookRunner.run(
                    executable: config.hook, stdin: Data(payload.jsonText.utf8), environment: hookEnvironment(extra: env),
                    timeout: config.timeoutSeconds)
                if result.succeeded {
                    summary.delivered += try db.execute(
                        "UPDATE audit.alert_outbox SET delivered_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL WHERE delivery_id = $1 AND delivered_at IS NULL",
                        [deliveryId])
                    logger.info("alert delivered", metadata: ["delivery_id": "\(deliveryId)", "ms": "\(Int(result.duration * 1000))"])
                } else {
                    let error = result.summary + (result.outputTail.isEmpty ? "" : ": " + String(result.outputTail.suffix(300)))
                    summary.failed += try db.execute(
                        """
                        UPDATE audit.alert_outbox SET attempts = attempts + 1, last_error = $2,
                               next_attempt_at = clock_timestamp() + least(interval '6 hours', interval '1 minute' * power(2, attempts))
                         WHERE delivery_id = $1 AND delivered_at IS NULL
                        """, [deliveryId, error])
                    logger.warning(
                        "alert delivery failed; will retry", metadata: ["delivery_id": "\(deliveryId)", "error": "\(result.summary)"])
                }
            }
            summary.pending = try db.query("SELECT count(*) FROM audit.alert_outbox WHERE delivered_at IS NULL").rows[0].decode(
                0, as: Int.self)
        } catch let e as PGError {
            throw .database(e)
        } catch {
            throw .database(PGError(kind: .query, message: "\(error)"))
        }
        return summary
    }

    /// Open findings whose last alert is older than `renotify_after_hours` are announced again; resolved ones
    /// once more when `notify_resolved` is set.
    func enqueueRenotifications(_ db: PGConnection) throws(PGError) {
        if config.renotifyAfterHours > 0 {
            try db.execute(
                """
                INSERT INTO audit.alert_outbox (finding_id, event, run_id, severity)
                SELECT f.id, 'renotify', f.last_run_id, f.severity FROM audit.findings f
                 WHERE f.status = 'open'
                   AND EXISTS (SELECT 1 FROM audit.alert_outbox o WHERE o.finding_id = f.id)
                   AND NOT EXISTS (SELECT 1 FROM audit.alert_outbox o WHERE o.finding_id = f.id
                                   AND (o.delivered_at IS NULL OR o.created_at > clock_timestamp() - make_interval(hours => $1::int)))
                """, [Int(config.renotifyAfterHours)])
        }
        if config.notifyResolved {
            try db.execute(
                """
                INSERT INTO audit.alert_outbox (finding_id, event, run_id, severity)
                SELECT f.id, 'resolved', f.last_run_id, f.severity FROM audit.findings f
                 WHERE f.status = 'resolved'
                   AND EXISTS (SELECT 1 FROM audit.alert_outbox o WHERE o.finding_id = f.id AND o.event <> 'resolved' AND o.delivered_at IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM audit.alert_outbox o WHERE o.finding_id = f.id AND o.event = 'resolved'
                                   AND o.created_at >= coalesce(f.status_changed_at, f.last_seen))
                """)
        }
    }

    /// The JSON document for one delivery, and its `KRAKEN_AUDIT_*` variables.
    func payload(_ db: PGConnection, deliveryId: String) throws(PGError) -> (JSONValue, [String: String]) {
        let rows = try db.query(
            """
            SELECT o.event, o.run_id, a.name, f.id, f.rule_id, f.severity, f.status, f.title, f.entity_type, f.entity_id,
                   f.occurred_at, f.first_seen, f.last_seen, f.evidence::text, o.attempts, f.status_note, f.status_changed_by,
                   f.occurrences
              FROM audit.alert_outbox o JOIN audit.findings f ON f.id = o.finding_id
              LEFT JOIN audit.accounts a ON a.id = f.account_id
             WHERE o.delivery_id = $1 AND o.delivered_at IS NULL
             ORDER BY audit.severity_rank(f.severity) DESC, f.id
            """, [deliveryId]
        ).rows
        let iso = ISO8601DateFormatter()
        iso.timeZone = timezone
        var findings: [JSONValue] = []
        var severities: [String] = []
        var account = ""
        var runId: Int64? = nil
        var events = Set<String>()
        var attempts = 0
        for r in rows {
            let event: String = try r.decode(0)
            runId = try r.decodeOptional(1)
            account = try r.decodeOptional(2) ?? ""
            let id: Int64 = try r.decode(3)
            let severity: String = try r.decode(5)
            severities.append(severity)
            events.insert(event)
            attempts = max(attempts, try r.decode(14, as: Int.self))
            func str(_ i: Int) throws(PGError) -> JSONValue { (try r.decodeOptional(i, as: String.self)).map { .string($0) } ?? .null }
            func time(_ i: Int) throws(PGError) -> JSONValue {
                (try r.decodeOptional(i, as: Date.self)).map { .string(iso.string(from: $0)) } ?? .null
            }
            findings.append(
                .object([
                    ("id", .number(String(id))), ("event", .string(event)), ("rule_id", try str(4)), ("severity", .string(severity)),
                    ("status", try str(6)), ("title", try str(7)), ("entity_type", try str(8)), ("entity_id", try str(9)),
                    ("occurred_at", try time(10)), ("first_seen", try time(11)), ("last_seen", try time(12)),
                    // How often the problem occurred (one finding per problem, not per run), and who changed the
                    // status last and why: "analyser" / "resolved automatically: ..." for an automatic resolution.
                    ("occurrences", .number(String(try r.decode(17, as: Int.self)))),
                    ("status_note", try str(15)), ("status_changed_by", try str(16)),
                    ("evidence", (try? JSONValue.parse(try r.decode(13, as: String.self))) ?? .null),
                    ("inspect", .string("kraken-audit findings show \(id)")),
                    ("acknowledge", .string("kraken-audit findings ack \(id) --note \"...\"")),
                ]))
        }
        let top = severities.max { (Severity(rawValue: $0) ?? .info) < (Severity(rawValue: $1) ?? .info) } ?? "info"
        let event = events.count == 1 ? events.first! : "mixed"
        let doc: JSONValue = .object([
            ("schema", .string(Self.payloadSchema)), ("delivery_id", .string(deliveryId)),
            ("run_id", runId.map { .number(String($0)) } ?? .null), ("account", .string(account)),
            ("event", .string(event)), ("max_severity", .string(top)), ("attempt", .number(String(attempts + 1))),
            ("generated_at", .string(iso.string(from: Date()))), ("test", .bool(false)),
            ("subject", .string(Self.subject(count: findings.count, severity: top, account: account, event: event))),
            ("findings", .array(findings)),
        ])
        let env = [
            "KRAKEN_AUDIT_DELIVERY_ID": deliveryId, "KRAKEN_AUDIT_ACCOUNT": account, "KRAKEN_AUDIT_RUN_ID": runId.map(String.init) ?? "",
            "KRAKEN_AUDIT_FINDINGS": String(findings.count), "KRAKEN_AUDIT_MAX_SEVERITY": top, "KRAKEN_AUDIT_EVENT": event,
            "KRAKEN_AUDIT_TEST": "0",
        ]
        return (doc, env)
    }

    /// `[kraken-audit] 2 high findings on account main`
    public static func subject(count: Int, severity: String, account: String, event: String) -> String {
        let what = event == "resolved" ? "resolved" : severity
        return "[kraken-audit] \(count) \(what) finding\(count == 1 ? "" : "s") on account \(account)"
    }

    /// `kraken-audit alerts --test`: sends a sample payload so an operator can check the hook; stores nothing.
    public func sendTest() throws(AlertError) -> HookResult {
        try checkHook()
        let iso = ISO8601DateFormatter()
        iso.timeZone = timezone
        let deliveryId = "test-\(UUID().uuidString.prefix(8).lowercased())"
        let doc: JSONValue = .object([
            ("schema", .string(Self.payloadSchema)), ("delivery_id", .string(deliveryId)), ("run_id", .null),
            ("account", .string("example")), ("event", .string("new")), ("max_severity", .string("high")),
            ("attempt", .number("1")), ("generated_at", .string(iso.string(from: Date()))), ("test", .bool(true)),
            ("subject", .string("[kraken-audit] TEST: 1 high finding on account example")),
            (
                "findings",
                .array([
                    .object([
                        ("id", .number("0")), ("event", .string("new")), ("rule_id", .string("unexpected_withdrawal")),
                        ("severity", .string("high")), ("status", .string("open")),
                        ("title", .string("TEST: Withdrawal of 1.5 XXBT to an address not in the allowlist")),
                        ("entity_type", .string("withdrawal")), ("entity_id", .string("TEST-REFID")),
                        ("occurred_at", .string(iso.string(from: Date()))), ("first_seen", .string(iso.string(from: Date()))),
                        ("last_seen", .string(iso.string(from: Date()))),
                        ("evidence", .object([("note", .string("this is a test alert sent by kraken-audit alerts --test"))])),
                        ("inspect", .string("kraken-audit findings show 0")),
                        ("acknowledge", .string("kraken-audit findings ack 0 --note \"...\"")),
                    ])
                ])
            ),
        ])
        let env = [
            "KRAKEN_AUDIT_DELIVERY_ID": deliveryId, "KRAKEN_AUDIT_ACCOUNT": "example", "KRAKEN_AUDIT_RUN_ID": "",
            "KRAKEN_AUDIT_FINDINGS": "1", "KRAKEN_AUDIT_MAX_SEVERITY": "high", "KRAKEN_AUDIT_EVENT": "new", "KRAKEN_AUDIT_TEST": "1",
        ]
        return HookRunner.run(
            executable: config.hook, stdin: Data(doc.jsonText.utf8), environment: hookEnvironment(extra: env),
            timeout: config.timeoutSeconds)
    }
}
