import Alerts
import Analyser
import AuditConfig
import AuditStore
import Foundation
import TestSupport
import Testing

/// Issue 15, part 6: one finding per problem, not per run; rules that check a state (`-- resolves: when_absent`)
/// have their findings resolved automatically when the condition clears.
@Suite("Finding recurrence")
struct RecurrenceTests {
    static let permissionDenied =
        "Kraken Private/Balance failed: EGeneral:Permission denied (the key lacks a permission this call needs: edit the key's permissions on Kraken)"

    /// Night `day` of November 2026 at `time` UTC.
    static func night(_ day: Int, _ time: String) -> String { String(format: "2026-11-%02dT%@:00Z", day, time) }

    /// One failed nightly collection (and its rejected call), then the nightly analysis of the call-log rules.
    @discardableResult
    func failedNight(_ f: Fixture, day: Int, error: String = Self.permissionDenied) throws -> (run: Int64, summary: AnalysisSummary) {
        let run = try f.collectorRun(status: "failed", started: Self.night(day, "02:00"), finished: Self.night(day, "02:01"), error: error)
        try f.apiCall(endpoint: "Balance", at: Self.night(day, "02:00"), errors: ["EGeneral:Permission denied"])
        let summary = try f.analyse(["stale_collection"], now: Fixture.t(Self.night(day, "03:00")))
        return (run, summary)
    }

    /// The call-log rules are incremental by the call's start time, and these fixture calls are dated in the past
    /// when they are inserted: an overlap of ten years makes each run see them as a nightly run sees its new calls.
    static func analyseLateRows(_ f: Fixture, _ rule: String, now: String) throws {
        _ = try f.analyser(overlapSeconds: 10 * 366 * 86_400).analyse(on: f.db, rules: [rule], now: Fixture.t(now))
    }

    func failing(_ f: Fixture) throws -> [Finding] {
        try f.findings("stale_collection").filter { $0.dedupeKey.hasSuffix(":failed:EGeneral:Permission denied") }
    }

    @Test func aCollectionFailingFiveNightsIsOneFindingResolvedWhenACollectionSucceeds() throws {
        let f = try Fixture("recur_stale")
        try f.collectorRun(status: "success", started: Self.night(1, "02:00"), finished: Self.night(1, "02:10"))
        var runs: [Int64] = []
        var lastSeen: [Date] = []
        for day in 2...6 {
            let (run, summary) = try failedNight(f, day: day)
            runs.append(run)
            #expect(summary.failures.isEmpty)
            lastSeen.append(try #require(try failing(f).first).lastSeen)
        }
        let found = try failing(f)
        #expect(found.count == 1, "one finding per account and cause, not per run: \(found.map(\.title))")
        let finding = try #require(found.first)
        #expect(finding.status == .open)
        #expect(finding.severity == .medium)
        #expect(finding.occurrences == 5)
        #expect(finding.detections == 5)
        #expect(finding.entityId == "main")
        #expect(lastSeen == lastSeen.sorted() && Set(lastSeen).count == 5, "last_seen moves with each night")
        #expect(finding.firstSeen < finding.lastSeen)
        #expect(finding.occurredAt == Fixture.t(Self.night(6, "02:01")))
        #expect(finding.title.contains("failed 5 times since the last success 2026-11-01 03:10 Europe/Berlin"))
        #expect(finding.title.contains("edit the key's permissions"))
        #expect((finding.evidenceObject["run_ids"] as? [Int])?.map(Int64.init) == runs.reversed())
        // Re-analysing without a new run changes nothing but the detections.
        try f.analyse(["stale_collection"], now: Fixture.t(Self.night(6, "04:00")))
        #expect(try failing(f).first?.occurrences == 5)
        // Announced once, not on every run (re-notification is the Alerts module's, after renotify_after_hours).
        #expect(try f.scalar("SELECT count(*) FROM audit.alert_outbox WHERE finding_id = $1", [finding.id], as: Int.self) == 1)
        // Not collected for days: the staleness is one finding too.
        let stale = try f.findings("stale_collection").filter { $0.severity == .high }
        #expect(stale.map(\.dedupeKey) == ["stale_collection:\(f.accountId):stale"])

        // The alert went out (the hook exited 0) ...
        let hook = FileManager.default.temporaryDirectory.appendingPathComponent("ka-recur-hook-\(UUID().uuidString).sh")
        try "#!/bin/sh\ncat > /dev/null\nexit 0\n".write(to: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
        defer { try? FileManager.default.removeItem(at: hook) }
        let delivery = AlertDelivery(
            config: AlertsConfig(hook: hook.path, minSeverity: "medium", timeoutSeconds: 10, renotifyAfterHours: 24, notifyResolved: true),
            timezone: TimeZone(identifier: "Europe/Berlin")!, environment: [:], logger: TestDatabase.logger)
        #expect(try delivery.deliverPending(on: f.db).failed == 0)
        #expect(try f.scalar("SELECT count(*) FROM audit.alert_outbox WHERE delivered_at IS NULL", as: Int.self) == 0)

        // ... then the key got its permission back and the next collection succeeded: resolved automatically.
        try f.collectorRun(status: "success", started: Self.night(7, "02:00"), finished: Self.night(7, "02:10"))
        let fixed = try f.analyse(["stale_collection"], now: Fixture.t(Self.night(7, "03:00")))
        #expect(fixed.resolvedFindings == 2)  // the failure and the staleness
        let resolved = try FindingStore.get(on: f.db, id: finding.id)
        #expect(resolved.status == .resolved)
        #expect(resolved.statusChangedBy == "analyser")
        #expect(resolved.statusNote?.hasPrefix("resolved automatically") == true)
        #expect(try f.findings("stale_collection").allSatisfy { $0.status == .resolved })
        let history = try FindingStore.history(on: f.db, id: finding.id)
        #expect(history.map(\.new) == ["resolved"])
        #expect(history.map(\.by) == ["analyser"])
        #expect(try f.scalar("SELECT run_id FROM audit.finding_events WHERE finding_id = $1", [finding.id], as: Int64.self) == fixed.runId)
        // notify_resolved announces the automatic resolution.
        #expect(try delivery.deliverPending(on: f.db).delivered == 2)
        let notices = try f.db.query(
            "SELECT finding_id, run_id FROM audit.alert_outbox WHERE event = 'resolved' AND delivered_at IS NOT NULL ORDER BY finding_id"
        ).rows.map { (try $0.decode(0, as: Int64.self), try $0.decode(1, as: Int64.self)) }
        #expect(notices.map(\.0).contains(finding.id))
        #expect(notices.allSatisfy { $0.1 == fixed.runId })
        // Another analysis: nothing left to resolve, nothing reopened, no new alert.
        let quiet = try f.analyse(["stale_collection"], now: Fixture.t(Self.night(7, "04:00")))
        #expect(quiet.resolvedFindings == 0 && quiet.reopenedFindings == 0 && quiet.newFindings == 0)
        #expect(try delivery.deliverPending(on: f.db).calls == 0)

        // The same problem again: the same finding reopens, counting from one, and is announced again.
        try failedNight(f, day: 8)
        let again = try FindingStore.get(on: f.db, id: finding.id)
        #expect(again.status == .open)
        #expect(again.occurrences == 1)
        #expect(try failing(f).count == 1)
        #expect(
            try f.scalar("SELECT count(*) FROM audit.alert_outbox WHERE finding_id = $1 AND event = 'new'", [finding.id], as: Int.self) == 2
        )
    }

    @Test func differentCausesAreDifferentFindingsAndSuppressedOnesStaySuppressed() throws {
        let f = try Fixture("recur_causes")
        try failedNight(f, day: 2)
        try failedNight(f, day: 3, error: "Kraken Private/Ledgers failed: EAPI:Invalid nonce (another client is using this key)")
        try failedNight(f, day: 4)
        let keys = Set(try f.findings("stale_collection").map(\.dedupeKey))
        #expect(
            keys == [
                "stale_collection:\(f.accountId):failed:EGeneral:Permission denied",
                "stale_collection:\(f.accountId):failed:EAPI:Invalid nonce",
            ])
        #expect(try failing(f).first?.occurrences == 2)
        let nonce = try #require(try f.findings("stale_collection").first { $0.dedupeKey.hasSuffix("EAPI:Invalid nonce") })
        try FindingStore.setStatus(on: f.db, id: nonce.id, to: .suppressed, note: "known: second client retired", by: "alice")
        try f.collectorRun(status: "success", started: Self.night(5, "02:00"), finished: Self.night(5, "02:10"))
        #expect(try f.analyse(["stale_collection"], now: Fixture.t(Self.night(5, "03:00"))).resolvedFindings == 1)
        #expect(try FindingStore.get(on: f.db, id: nonce.id).status == .suppressed)
        #expect(try failing(f).first?.status == .resolved)
    }

    @Test func nonceErrorsNightAfterNightAreOneFindingPerKey() throws {
        let f = try Fixture("recur_nonce")
        for day in 2...4 {
            try f.apiCall(at: Self.night(day, "02:00"), errors: ["EAPI:Invalid nonce"])
            try f.apiCall(at: Self.night(day, "02:01"), errors: ["EAPI:Invalid nonce"])
            try Self.analyseLateRows(f, "nonce_errors", now: Self.night(day, "03:00"))
        }
        let found = try f.findings("nonce_errors")
        #expect(found.map(\.dedupeKey) == ["nonce_errors:\(f.accountId):sha256:0123456789abcdef"])
        #expect(found.first?.occurrences == 3)
        #expect(found.first?.occurredAt == Fixture.t(Self.night(4, "02:01")))
    }

    @Test func authErrorBurstsOnSeveralDaysAreOneFindingPerKeyAndKind() throws {
        let f = try Fixture("recur_burst")
        for day in [2, 9] {
            for m in [2, 4, 9, 15] {
                try f.apiCall(endpoint: "Balance", at: Self.night(day, String(format: "03:%02d", m)), errors: ["EAPI:Invalid key"])
            }
            try Self.analyseLateRows(f, "api_error_burst", now: Self.night(day, "04:00"))
        }
        let found = try f.findings("api_error_burst")
        #expect(found.map(\.dedupeKey) == ["api_error_burst:\(f.accountId):sha256:0123456789abcdef:auth"])
        #expect(found.first?.occurrences == 2)
    }

    @Test func keyRotationDueIsResolvedWhenTheKeyIsReplaced() throws {
        let f = try Fixture("recur_key")
        try f.apiKey(created: "2026-01-15", firstSeen: "2026-01-20T10:00:00Z", lastUsed: "2026-11-25T02:00:00Z")
        try f.analyse(["key_rotation_due"], now: Fixture.t("2026-11-26T08:00:00Z"))
        let due = try #require(try f.findings("key_rotation_due").first)
        #expect(due.status == .open)
        // A new key replaced it: the old one is no longer used within active_within_days.
        let later = try f.analyse(["key_rotation_due"], now: Fixture.t("2026-12-20T08:00:00Z"))
        #expect(later.resolvedFindings == 1)
        #expect(try FindingStore.get(on: f.db, id: due.id).status == .resolved)
        // --since re-analyses rows; it never resolves anything.
        try f.db.execute("UPDATE audit.findings SET status = 'open' WHERE id = $1", [due.id])
        #expect(
            try f.analyse(["key_rotation_due"], since: Fixture.t("2026-01-01T00:00:00Z"), now: Fixture.t("2026-12-20T08:00:00Z"))
                .resolvedFindings == 0)
    }

    @Test func theResolvesHeaderIsParsedAndChecked() throws {
        #expect(Fixture.catalogue.rule("stale_collection")?.resolves == .whenAbsent)
        #expect(Fixture.catalogue.rule("key_rotation_due")?.resolves == .whenAbsent)
        #expect(Fixture.catalogue.rule("unexpected_withdrawal")?.resolves == .manually)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-resolves-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(
            """
            -- id: odd
            -- title: Odd
            -- severity: low
            -- entity: account
            -- resolves: sometimes
            -- catches: nothing
            -- false positives: none
            SELECT 1;
            """.utf8
        ).write(to: dir.appendingPathComponent("odd.sql"))
        do {
            _ = try RuleCatalogue(directory: dir)
            Issue.record("a rule with resolves: sometimes was accepted")
        } catch {
            #expect("\(error)".contains("resolves 'sometimes' is not one of manually, when_absent"))
        }
    }
}
