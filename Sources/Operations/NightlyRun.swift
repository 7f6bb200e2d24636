import Alerts
import Analyser
import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import Integrity
import KrakenAPI
import Logging
import Reports

/// Options of `kraken-audit run`.
public struct RunOptions: Sendable {
    public var accounts: [String] = []
    public var reportDirectory: String?
    public var metricsFile: String?
    /// Exit with ``ExitStatus/findings`` when new findings at or above this severity appeared.
    public var failOn: Severity?
    public var collect = CollectOptions()
    /// Report period length ending now.
    public var reportPeriod: TimeInterval = 86400

    public init() {}
}

/// What a nightly run did, phase by phase.
public struct RunSummary: Sendable {
    public var runId: Int64?
    public var started = Date()
    public var finished = Date()
    public var outcomes: [AccountOutcome] = []
    public var analysis: AnalysisSummary?
    public var analysisError: String?
    public var reportFiles: [String] = []
    public var reportError: String?
    public var delivery: DeliverySummary?
    public var deliveryError: String?
    /// The integrity verification (when `[integrity]` is configured).
    public var integrity: IntegrityVerifier.Report?
    public var integrityError: String?
    /// The digest sealed at the end of the run.
    public var sealed: Sealer.Sealed?
    public var sealError: String?
    public var phaseSeconds: [(String, Double)] = []
    /// The night this runner took part in (``Night``), and whether it did the night's once-only phases.
    public var night: Int64?
    public var finishesNight = false
    public var exitStatus: ExitStatus = .success
    /// Printed summary (markdown of the report's headline plus failures).
    public var headline = ""
}

/// Why the nightly job could not even start.
public enum RunError: Error, CustomStringConvertible {
    case alreadyRunning
    /// Every account of the night was collected by other runners, and another one finishes the night.
    case nothingLeft(night: Int64)
    case interrupted(signal: Int32)

    public var description: String {
        switch self {
        case .alreadyRunning:
            return
                "another kraken-audit run is in progress on this database and holds every account left to collect tonight (or is making the night's report, or runs another --account selection); this one exits without doing anything"
        case .nothingLeft(let night):
            return
                "nothing left to do: every account of night \(night) was collected by another kraken-audit run on this database, which also makes the night's report; this one did nothing"
        case .interrupted(let s):
            return "interrupted by signal \(s); what was stored is consistent and the next run resumes"
        }
    }
}

/// `kraken-audit run`: the nightly job. Migrations check, collect, verify, analyse, report, alerts, seal, metrics;
/// partial failures are reported and the rest still done.
///
/// Several runners (on several hosts) share one night (``Night``): each account is collected by exactly one of
/// them (per-account leases, ``NightLeasing``), a runner that dies loses its leases and the others take its
/// accounts over, and the runner that completes the night does the once-per-night phases.
public struct NightlyRun: Sendable {
    let env: AuditEnvironment
    let transport: any HTTPTransport
    let secrets: SecretReader
    let processEnvironment: [String: String]

    public init(
        environment: AuditEnvironment, transport: any HTTPTransport = URLSessionTransport(), secrets: SecretReader = SecretReader(),
        processEnvironment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.env = environment
        self.transport = transport
        self.secrets = secrets
        self.processEnvironment = processEnvironment
    }

    var logger: Logger { env.logger }

    /// Runs every phase. Throws only when the run could not start (schema, lock, database); everything
    /// later is recorded in the summary and reflected in its exit status.
    public func run(_ options: RunOptions) async throws -> RunSummary {
        var summary = RunSummary()
        try env.checkAccounts(options.accounts)
        try env.requireCurrentSchema()
        let lockDB = try env.connect()
        defer { lockDB.close() }
        let session = try ProcessSession(url: env.config.database.url, logger: logger)
        defer { session.close() }
        let selection = (options.accounts.isEmpty ? env.config.accounts.map(\.name) : options.accounts).sorted()
        let night = try await Night.join(session: session, accounts: selection)
        logger.info("night", metadata: ["night": "\(night.id)", "joined": "\(!night.created)"])

        let pinger = Pinger(url: env.config.ops.pingURL, transport: transport, logger: logger)
        await pinger.start()
        _ = try? RunLog.markAbandoned(on: lockDB)  // e.g. a runner of an earlier night killed on another host
        let runId = try RunLog.start(
            on: lockDB, command: "run",
            stats: .object([("night", .number(String(night.id))), ("holder", .number(String(session.holder)))]))
        summary.runId = runId

        // 1. Collect the accounts of the night no other runner holds or has done.
        var t = Date()
        summary.outcomes = await env.collector(transport: transport, reader: secrets).collect(
            accounts: options.accounts, options: options.collect, command: "run",
            leasing: NightLeasing(session: session, night: night, runId: runId))
        summary.phaseSeconds.append(("collect", Date().timeIntervalSince(t)))
        let cancelled = Task.isCancelled
        summary.night = night.id
        if !cancelled {
            summary.finishesNight = (try? await night.claimFinish(session: session, runId: runId)) == true
        }
        if !summary.finishesNight {
            if summary.outcomes.isEmpty && !cancelled {
                // Everything left was held by other runners: this one did nothing, as if it had not started.
                _ = try? RunLog.finish(
                    on: lockDB, id: runId, status: .success, error: nil, stats: .object([("nothing_left", .bool(true))]), mergeStats: true)
                await pinger.finish(exitCode: ExitStatus.alreadyRunning.rawValue)
                throw RunError.nothingLeft(night: night.id)
            }
            return await conclude(summary, report: nil, options: options, cancelled: cancelled, db: lockDB, pinger: pinger)
        }

        // 2. Integrity (issue 17): verify what was appended since the newest signed digest (everything every
        //    [integrity] verify_full_every_days). A problem is recorded and becomes the critical finding
        //    audit_tampered in the analysis below, so it reaches the alert hook like any finding.
        if let integrity = env.config.integrity, !cancelled {
            t = Date()
            do {
                let db = try env.connect()
                defer { db.close() }
                summary.integrity = try IntegrityJob.nightlyVerify(integrity, db: db, runId: summary.runId, logger: logger)
            } catch {
                summary.integrityError = "\(error)"
                logger.error("integrity verification failed", metadata: ["error": "\(error)"])
            }
            summary.phaseSeconds.append(("verify", Date().timeIntervalSince(t)))
        }

        // 3. Analyse (also when some account failed: the others' data is fresh).
        t = Date()
        if !cancelled {
            do {
                let catalogue = try RuleCatalogue.locate(sqlDirectory: env.sqlDirectory)
                let analyser = try Analyser(config: env.config, catalogue: catalogue, logger: logger)
                let db = try env.connect()
                defer { db.close() }
                summary.analysis = try await db.run { db in
                    try analyser.analyse(on: db, accounts: options.accounts.isEmpty ? nil : options.accounts)
                }
            } catch {
                summary.analysisError = "\(error)"
                logger.error("analysis failed", metadata: ["error": "\(error)"])
            }
        }
        summary.phaseSeconds.append(("analyse", Date().timeIntervalSince(t)))

        // 4. Report (markdown + HTML + JSON, one dated set per run).
        t = Date()
        let now = Date()
        var report: Report? = nil
        if !Task.isCancelled {
            do {
                report = try env.buildReport(since: now.addingTimeInterval(-options.reportPeriod), until: now, accounts: options.accounts)
                if let dir = options.reportDirectory, let report {
                    try PrivateDirectory.create(dir)  // 0700 when created here; the files are 0600 (issue 14)
                    AtomicFile.removeStaleTemporaries(in: dir)
                    let stamp = Self.stamp(now, timezone: env.reportTimeZone) + "-run\(summary.runId ?? 0)"
                    for (format, ext) in [(ReportFormat.markdown, "md"), (.html, "html"), (.json, "json")] {
                        summary.reportFiles += try report.write(format: format, to: "\(dir)/kraken-audit-\(stamp).\(ext)")
                    }
                }
            } catch {
                summary.reportError = "\(error)"
                logger.error("report failed", metadata: ["error": "\(error)"])
            }
        }
        summary.phaseSeconds.append(("report", Date().timeIntervalSince(t)))

        // 4. Alerts.
        t = Date()
        if env.config.alerts != nil, !Task.isCancelled {
            do {
                let db = try env.connect()
                defer { db.close() }
                let delivery = try env.alertDelivery(environment: processEnvironment)
                summary.delivery = try await db.run { db in try delivery.deliverPending(on: db) }
            } catch {
                summary.deliveryError = "\(error)"
                logger.error("alert delivery failed", metadata: ["error": "\(error)"])
            }
        }
        summary.phaseSeconds.append(("alerts", Date().timeIntervalSince(t)))

        // 6. Seal: a signed digest of every chain as this run leaves it (file in [integrity] digest_dir, hook).
        if let integrity = env.config.integrity, !Task.isCancelled {
            t = Date()
            do {
                let db = try env.connect()
                defer { db.close() }
                summary.sealed = try IntegrityJob.seal(integrity, db: db, logger: logger)
            } catch {
                summary.sealError = "\(error)"
                logger.error("sealing failed", metadata: ["error": "\(error)"])
            }
            summary.phaseSeconds.append(("seal", Date().timeIntervalSince(t)))
        }

        await night.finish(session: session)
        return await conclude(summary, report: report, options: options, cancelled: cancelled, db: lockDB, pinger: pinger)
    }

    /// Exit status, headline, the run's row, the metrics file and the final ping.
    func conclude(_ summary: RunSummary, report: Report?, options: RunOptions, cancelled: Bool, db lockDB: PGConnection, pinger: Pinger)
        async -> RunSummary
    {
        var summary = summary
        summary.exitStatus = Self.exitStatus(summary, failOn: options.failOn, cancelled: cancelled || Task.isCancelled)
        summary.finished = Date()
        summary.headline = headline(summary, report: report)
        let status: RunLog.Status
        switch summary.exitStatus {
        case .success, .findings: status = .success
        case .partial: status = .partial
        default: status = (cancelled || Task.isCancelled) ? .interrupted : .failed
        }
        if let runId = summary.runId {
            _ = try? RunLog.finish(on: lockDB, id: runId, status: status, error: failureText(summary), stats: statsJSON(summary))
        }
        if let path = options.metricsFile {
            AtomicFile.removeStaleTemporaries(in: (path as NSString).deletingLastPathComponent)
            do {
                try metrics(summary, db: lockDB).write(to: path)
            } catch {
                logger.error("metrics file failed", metadata: ["error": "\(error)"])
            }
        }
        await pinger.finish(exitCode: summary.exitStatus.rawValue)
        return summary
    }

    static func exitStatus(_ s: RunSummary, failOn: Severity?, cancelled: Bool) -> ExitStatus {
        if cancelled { return .tempFail }
        let collect = ExitStatus.forOutcomes(s.outcomes)
        if collect != .success {
            // Every account failed: the job did nothing useful; some failed: completed, with failures.
            return collect
        }
        if s.analysisError != nil || !(s.analysis?.failures.isEmpty ?? true) || s.reportError != nil || s.deliveryError != nil
            || (s.delivery?.failed ?? 0) > 0 || s.integrityError != nil || s.sealError != nil
        {
            return .partial
        }
        if let failOn, let a = s.analysis, Severity.allCases.filter({ $0 >= failOn }).contains(where: { a.newFindings(severity: $0) > 0 }) {
            return .findings
        }
        return .success
    }

    func failureText(_ s: RunSummary) -> String? {
        var parts: [String] = []
        for o in s.outcomes where !o.succeeded { parts.append("\(o.account): \(o.error.map { "\($0)" } ?? "failed")") }
        if let e = s.analysisError { parts.append("analysis: \(e)") }
        for r in s.analysis?.failures ?? [] { parts.append("rule \(r.ruleId)/\(r.account): \(r.failure ?? "")") }
        if let e = s.reportError { parts.append("report: \(e)") }
        if let e = s.integrityError { parts.append("verify: \(e)") }
        if let e = s.sealError { parts.append("seal: \(e)") }
        if let e = s.deliveryError { parts.append("alerts: \(e)") }
        if let d = s.delivery, d.failed > 0 { parts.append("alerts: \(d.failed) not delivered (will retry)") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    func statsJSON(_ s: RunSummary) -> JSONValue {
        .object([
            ("accounts", .object(s.outcomes.map { ($0.account, .string($0.succeeded ? "ok" : "failed")) })),
            ("new_findings", .number(String(s.analysis?.newFindings ?? 0))),
            ("report_files", .array(s.reportFiles.map { .string($0) })),
            ("alerts_delivered", .number(String(s.delivery?.delivered ?? 0))),
            ("phase_seconds", .object(s.phaseSeconds.map { ($0.0, .number(String(format: "%.3f", $0.1))) })),
        ])
    }

    /// `2026-11-26T0300` in the report time zone.
    static func stamp(_ date: Date, timezone: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timezone
        f.dateFormat = "yyyy-MM-dd'T'HHmmss"
        return f.string(from: date)
    }

    func headline(_ s: RunSummary, report: Report?) -> String {
        var o =
            "kraken-audit run \(s.runId.map(String.init) ?? "?"): \(s.exitStatus == .success ? "ok" : "exit \(s.exitStatus.rawValue) (\(s.exitStatus))")\n"
        for out in s.outcomes {
            let calls = out.endpoints.values.reduce(0) { $0 + $1.calls }
            let rows = out.endpoints.values.reduce(0) { $0 + $1.rows.inserted }
            o +=
                out.succeeded
                ? "  \(out.account): collected, \(calls) calls, \(rows) new rows\n"
                : "  \(out.account): FAILED: \(out.error.map { "\($0)" } ?? "")\n"
        }
        if let night = s.night, !s.finishesNight {
            o +=
                "  night \(night): \(s.outcomes.count) account(s) collected by this runner; the night's verify, analysis, report and alerts are done by the runner that completes it\n"
        }
        if let a = s.analysis {
            let bySeverity = Severity.allCases.reversed().compactMap { sev -> String? in
                let n = a.newFindings(severity: sev)
                return n > 0 ? "\(n) \(sev.rawValue)" : nil
            }
            o +=
                "  analysis: \(a.newFindings) new finding(s)\(bySeverity.isEmpty ? "" : " (" + bySeverity.joined(separator: ", ") + ")"), \(a.updatedFindings) seen again\n"
        }
        if let e = s.analysisError { o += "  analysis FAILED: \(e)\n" }
        if let v = s.integrity {
            o +=
                v.intact
                ? "  integrity: \(v.rowsChecked) row(s) verified (\(v.mode.rawValue)), intact\n"
                : "  integrity: TAMPERING FOUND, \(v.problems.count) problem(s) (critical finding audit_tampered): \(v.problems[0].detail)\n"
        }
        if let e = s.integrityError { o += "  integrity check FAILED: \(e)\n" }
        if let sealed = s.sealed { o += "  sealed digest \(sealed.digest.document.sequence): \(sealed.path)\n" }
        if let e = s.sealError { o += "  seal FAILED: \(e)\n" }
        if let report {
            let open = report.accounts.reduce(0) { $0 + $1.findings.count }
            o += "  report: \(open) finding(s) in the last 24 h"
            o += s.reportFiles.isEmpty ? "\n" : "; written to \(s.reportFiles.joined(separator: ", "))\n"
        }
        if let e = s.reportError { o += "  report FAILED: \(e)\n" }
        if let d = s.delivery { o += "  alerts: \(d.delivered) delivered, \(d.failed) failed, \(d.pending) pending\n" }
        if let e = s.deliveryError { o += "  alerts FAILED: \(e)\n" }
        return o
    }

    func metrics(_ s: RunSummary, db: PGConnection) throws -> MetricsFile {
        var m = MetricsFile()
        m.gauge("last_run_start_timestamp_seconds", "Start of the last kraken-audit run (Unix seconds).", s.started.timeIntervalSince1970)
        m.gauge("last_run_end_timestamp_seconds", "End of the last kraken-audit run (Unix seconds).", s.finished.timeIntervalSince1970)
        let lastSuccess = try db.query(
            "SELECT extract(epoch FROM max(finished_at))::float8 FROM audit.collector_runs WHERE command = 'run' AND status = 'success'"
        ).rows[0].decodeOptional(0, as: Double.self)
        m.gauge(
            "last_success_timestamp_seconds", "End of the last successful run (Unix seconds); alert when it gets old.", lastSuccess ?? 0)
        m.gauge("last_run_exit_code", "Exit code of the last run (0 = success).", Double(s.exitStatus.rawValue))
        for (phase, secs) in s.phaseSeconds {
            m.gauge("phase_duration_seconds", "Duration of each phase of the last run.", secs, labels: [("phase", phase)])
        }
        for o in s.outcomes {
            m.gauge(
                "account_success", "1 if the account was collected in the last run.", o.succeeded ? 1 : 0, labels: [("account", o.account)])
            for (endpoint, st) in o.endpoints.sorted(by: { $0.key < $1.key }) {
                m.gauge(
                    "rows_collected", "Rows added in the last run, per account and endpoint.", Double(st.rows.inserted),
                    labels: [("account", o.account), ("endpoint", endpoint)])
                m.gauge(
                    "api_calls", "Kraken calls in the last run, per account and endpoint.", Double(st.calls),
                    labels: [("account", o.account), ("endpoint", endpoint)])
            }
        }
        if let runId = s.runId {
            let errors = try db.query(
                """
                SELECT a.name, c.error_kind, count(*) FROM audit.api_calls c JOIN audit.accounts a ON a.id = c.account_id
                 WHERE c.error_kind IS NOT NULL AND c.run_id IN (SELECT id FROM audit.collector_runs WHERE id >= $1)
                 GROUP BY 1, 2 ORDER BY 1, 2
                """, [runId]
            ).rows
            for r in errors {
                m.gauge(
                    "api_errors", "Kraken call errors in the last run, per account and kind.", Double(try r.decode(2, as: Int.self)),
                    labels: [("account", try r.decode(0, as: String.self)), ("kind", try r.decode(1, as: String.self))])
            }
        }
        for sev in Severity.allCases {
            m.gauge(
                "findings_new", "Findings created by the last run, per severity.", Double(s.analysis?.newFindings(severity: sev) ?? 0),
                labels: [("severity", sev.rawValue)])
        }
        let open = try db.query("SELECT severity, count(*) FROM audit.findings WHERE status = 'open' GROUP BY 1").rows
        var openBy: [String: Int] = [:]
        for r in open { openBy[try r.decode(0, as: String.self)] = try r.decode(1, as: Int.self) }
        for sev in Severity.allCases {
            m.gauge(
                "findings_open", "Open findings, per severity.", Double(openBy[sev.rawValue] ?? 0), labels: [("severity", sev.rawValue)])
        }
        let pending = try db.query("SELECT count(*) FROM audit.alert_outbox WHERE delivered_at IS NULL").rows[0].decode(0, as: Int.self)
        m.gauge("alerts_pending", "Alerts waiting for delivery.", Double(pending))
        return m
    }
}
