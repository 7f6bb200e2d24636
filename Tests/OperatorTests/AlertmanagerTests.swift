import AuditKernel
import ChildProcesses
import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 19 part 3: `scripts/alert-alertmanager` against a real Alertmanager (Debian's `prometheus-alertmanager`,
/// started here on a free loopback port with a throw-away configuration and storage), whose webhook receiver is a
/// loopback sink, so what Alertmanager makes of the alerts (grouping, resolution) is observed, not assumed.
@Suite struct AlertmanagerTests {
    static let hook = OperatorTools.repo.appendingPathComponent("scripts/alert-alertmanager").path

    /// A running Alertmanager and its notification sink, for the scope of `body`; both are stopped afterwards.
    struct Harness {
        let url: String
        let notifications: URL

        /// Every notification the sink received so far (Alertmanager's webhook JSON documents).
        func received() throws -> [JSONValue] {
            let names = try FileManager.default.contentsOfDirectory(atPath: notifications.path).filter { $0.hasSuffix(".json") }
            return try names.sorted { Int($0.dropLast(5))! < Int($1.dropLast(5))! }.map {
                try JSONValue.parse(Array(try Data(contentsOf: notifications.appendingPathComponent($0))))
            }
        }

        func get(_ path: String) async throws -> JSONValue {
            let (data, response) = try await URLSession.shared.data(from: URL(string: url + path)!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(path): \(String(decoding: data, as: UTF8.self))")
            return try JSONValue.parse(Array(data))
        }

        /// The active alerts, by finding_id.
        func alerts() async throws -> [String: JSONValue] {
            var out: [String: JSONValue] = [:]
            for a in try await get("/api/v2/alerts").arrayValue ?? [] {
                if let id = a["labels"]?["finding_id"]?.stringValue { out[id] = a }
            }
            return out
        }
    }

    static func withAlertmanager(_ body: (Harness) async throws -> Void) async throws {
        let alertmanager = try OperatorTools.tool("prometheus-alertmanager")
        let dir = try OperatorTools.temporaryDirectory("alertmanager")
        defer { try? FileManager.default.removeItem(at: dir) }
        let notifications = dir.appendingPathComponent("notifications")
        try FileManager.default.createDirectory(at: notifications, withIntermediateDirectories: true)
        let portFile = dir.appendingPathComponent("sink.port").path
        let sink = try ChildProcess.start(
            try OperatorTools.tool("python3"), arguments: [OperatorTools.fixture("webhook_sink.py"), notifications.path, portFile],
            environment: OperatorTools.environment)
        defer { _ = sink.waitOrKill(timeout: 0) }
        let sinkUp = await OperatorTools.poll(seconds: 30) { FileManager.default.fileExists(atPath: portFile) || !sink.isRunning }
        let sinkPort = try #require(
            sinkUp ? try? String(contentsOfFile: portFile, encoding: .utf8) : nil, "the webhook sink did not start: \(sink.stdoutText)")

        // Short group timings so notifications come within seconds; grouping by rule and account, as the README
        // suggests for kraken-audit alerts.
        let config = """
            route:
              receiver: sink
              group_by: [alertname, account]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 4h
            receivers:
              - name: sink
                webhook_configs:
                  - url: http://127.0.0.1:\(sinkPort)/notify
                    send_resolved: true
            """
        let configPath = dir.appendingPathComponent("alertmanager.yml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        // Port 0 (the kernel picks a free one; Alertmanager logs it) and no cluster listener (it would bind 9094).
        let am = try ChildProcess.start(
            alertmanager,
            arguments: [
                "--config.file=\(configPath)", "--storage.path=\(dir.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:0", "--cluster.listen-address=", "--log.level=info",
            ],
            environment: OperatorTools.environment, stdout: .capture(limit: 1 << 20))
        defer { _ = am.waitOrKill(timeout: 0) }
        var address: String? = nil
        _ = await OperatorTools.poll(seconds: 60) {
            if let range = am.stdoutText.range(of: #"msg="Listening on" address=127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                address = String(am.stdoutText[range].split(separator: "=").last!)
            }
            return address != nil || !am.isRunning
        }
        let listening = try #require(address, "Alertmanager did not start: \(am.stdoutText)")
        let url = "http://\(listening)"
        let ready = await OperatorTools.poll(seconds: 60) {
            guard let (_, r) = try? await URLSession.shared.data(from: URL(string: url + "/-/ready")!) else { return false }
            return (r as? HTTPURLResponse)?.statusCode == 200
        }
        try #require(ready, "Alertmanager at \(url) never became ready: \(am.stdoutText)")
        try await body(Harness(url: url, notifications: notifications))
        am.signal(SIGTERM)
        _ = await am.exitOrKill(timeout: 30)
        sink.signal(SIGTERM)
        _ = await sink.exitOrKill(timeout: 10)
    }

    /// An alert document as kraken-audit hands it to a hook (schema kraken-audit.alert/1).
    static func document(
        account: String, delivery: String, event: String, findings: [(id: Int, rule: String, severity: String)], attempt: Int = 1,
        generatedAt: String = "2026-11-26T03:05:00+01:00"
    ) -> String {
        let items = findings.map { f in
            """
            {"id": \(f.id), "event": "\(event)", "rule_id": "\(f.rule)", "severity": "\(f.severity)",
             "status": "\(event == "resolved" ? "resolved" : "open")", "title": "Finding \(f.id) of \(f.rule) <b>& \\"quoted\\"",
             "entity_type": "withdrawal", "entity_id": "FT-\(f.id)", "occurred_at": "2026-11-26T02:12:00+01:00",
             "first_seen": "2026-11-26T03:04:05+01:00", "last_seen": "2026-11-26T03:04:05+01:00", "occurrences": 1,
             "status_note": null, "status_changed_by": null,
             "evidence": {"address": "bc1qa35ls3egf0872h3w", "amount": "0.72485000"},
             "inspect": "kraken-audit findings show \(f.id)", "acknowledge": "kraken-audit findings ack \(f.id) --note \\"...\\""}
            """
        }
        return """
            {"schema": "kraken-audit.alert/1", "delivery_id": "\(delivery)", "run_id": 42, "account": "\(account)", "event": "\(event)",
             "max_severity": "high", "attempt": \(attempt), "generated_at": "\(generatedAt)", "test": false,
             "subject": "[kraken-audit] alert", "findings": [\(items.joined(separator: ","))]}
            """
    }

    static func send(_ document: String, to url: String) async throws {
        var env = OperatorTools.environment
        env["ALERT_ALERTMANAGER_URL"] = url
        let (status, out) = try await OperatorTools.run(Self.hook, [], environment: env, stdin: Data(document.utf8), timeout: 60)
        #expect(status == 0, "alert-alertmanager failed: \(out)")
    }

    @Test func findingsBecomeGroupedAlertsThatResolveAndAreNotDuplicated() async throws {
        try await Self.withAlertmanager { am in
            let main = Self.document(
                account: "main", delivery: "dlv-1-aaaa", event: "new",
                findings: [
                    (1, "unexpected_withdrawal", "high"), (2, "unexpected_withdrawal", "medium"), (3, "off_hours_trading", "medium"),
                ])
            let second = Self.document(
                account: "second", delivery: "dlv-2-bbbb", event: "new", findings: [(4, "unexpected_withdrawal", "high")])
            try await Self.send(main, to: am.url)
            try await Self.send(second, to: am.url)

            // One alert per finding, labelled and annotated as documented.
            let alerts = try await am.alerts()
            #expect(alerts.keys.sorted() == ["1", "2", "3", "4"])
            let one = try #require(alerts["1"])
            #expect(one["labels"]?["alertname"]?.stringValue == "unexpected_withdrawal")
            #expect(one["labels"]?["severity"]?.stringValue == "high")
            #expect(one["labels"]?["account"]?.stringValue == "main")
            #expect(one["annotations"]?["title"]?.stringValue == "Finding 1 of unexpected_withdrawal <b>& \"quoted\"")
            #expect(one["annotations"]?["inspect"]?.stringValue == "kraken-audit findings show 1")
            #expect(one["annotations"]?["evidence"]?.stringValue == "address=bc1qa35ls3egf0872h3w, amount=0.72485000")
            #expect(one["startsAt"]?.stringValue == "2026-11-26T02:04:05.000Z")  // first_seen, in UTC
            #expect(one["status"]?["state"]?.stringValue == "active")
            let endsAt = try #require(one["endsAt"]?.stringValue.flatMap { ISO8601DateFormatter.withFractions.date(from: $0) })
            #expect(endsAt > Date().addingTimeInterval(24 * 3600), "an open finding must not resolve on its own within a day")

            // Grouped by rule and account: Alertmanager's groups, and the notifications its receiver got.
            let groups = try await am.get("/api/v2/alerts/groups").arrayValue ?? []
            var byLabels: [String: [String]] = [:]
            for g in groups {
                let key = "\(g["labels"]?["alertname"]?.stringValue ?? "?")/\(g["labels"]?["account"]?.stringValue ?? "?")"
                byLabels[key] = (g["alerts"]?.arrayValue ?? []).compactMap { $0["labels"]?["finding_id"]?.stringValue }.sorted()
            }
            #expect(
                byLabels == [
                    "unexpected_withdrawal/main": ["1", "2"], "off_hours_trading/main": ["3"], "unexpected_withdrawal/second": ["4"],
                ])
            let notified = await OperatorTools.poll(seconds: 60) { ((try? am.received()) ?? []).count >= 3 }
            #expect(notified, "Alertmanager sent \(String(describing: try? am.received().count)) notifications, expected 3 groups")
            for n in try am.received() {
                #expect(n["groupLabels"]?.objectMembers?.map(\.0).sorted() == ["account", "alertname"], "\(n.jsonText)")
            }

            // The same delivery again (a retry after a crash: same delivery id and findings, a later attempt and
            // generation time): the same four alerts, no fifth.
            let fingerprints = alerts.mapValues { $0["fingerprint"]?.stringValue ?? "" }
            let retry = Self.document(
                account: "main", delivery: "dlv-1-aaaa", event: "new",
                findings: [
                    (1, "unexpected_withdrawal", "high"), (2, "unexpected_withdrawal", "medium"), (3, "off_hours_trading", "medium"),
                ],
                attempt: 2, generatedAt: "2026-11-26T03:35:00+01:00")
            try await Self.send(retry, to: am.url)
            let again = try await am.alerts()
            #expect(again.mapValues { $0["fingerprint"]?.stringValue ?? "" } == fingerprints)
            #expect(try await am.get("/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true").arrayValue?.count == 4)

            // A resolution (notify_resolved): the alert ends, the receiver is told it resolved, the others stay.
            let resolved = Self.document(
                account: "main", delivery: "dlv-3-cccc", event: "resolved", findings: [(3, "off_hours_trading", "medium")])
            try await Self.send(resolved, to: am.url)
            #expect(try await am.alerts().keys.sorted() == ["1", "2", "4"])
            let told = await OperatorTools.poll(seconds: 60) {
                ((try? am.received()) ?? []).contains { n in
                    n["status"]?.stringValue == "resolved"
                        && (n["alerts"]?.arrayValue ?? []).contains {
                            $0["labels"]?["finding_id"]?.stringValue == "3" && $0["status"]?.stringValue == "resolved"
                        }
                }
            }
            #expect(told, "no resolved notification for finding 3: \(String(describing: try? am.received().map(\.jsonText)))")
        }
    }

    @Test func krakenAuditsTestAlertReachesAlertmanagerThroughTheHook() async throws {
        try await Self.withAlertmanager { am in
            let dir = try OperatorTools.temporaryDirectory("am-hook")
            defer { try? FileManager.default.removeItem(at: dir) }
            let database = try TestDatabase("amhook")
            let config = dir.appendingPathComponent("kraken-audit.toml").path
            try (ConfigText.database(database.url) + "[alerts]\nhook = \"\(Self.hook)\"\ntimeout_seconds = 60\n")
                .write(toFile: config, atomically: true, encoding: .utf8)
            var env = OperatorTools.environment
            env["ALERT_ALERTMANAGER_URL"] = am.url  // kraken-audit passes ALERT_* variables on to the hook
            env["KRAKEN_AUDIT_SQL_DIR"] = OperatorTools.repo.appendingPathComponent("sql").path
            let (status, out) = try await OperatorTools.run(
                OperatorTools.binary, ["alerts", "--test", "--config", config], environment: env)
            #expect(status == 0, "\(out)")
            let alerts = try await am.alerts()
            let test = try #require(alerts["0"], "\(alerts)")
            #expect(test["labels"]?["test"]?.stringValue == "true")
            #expect(test["labels"]?["alertname"]?.stringValue == "unexpected_withdrawal")
            #expect(test["labels"]?["account"]?.stringValue == "example")
            #expect(test["annotations"]?["inspect"]?.stringValue == "kraken-audit findings show 0")
        }
    }

    @Test func plainHTTPToAnotherHostIsRefusedAndNothingIsSent() async throws {
        var env = OperatorTools.environment
        env["ALERT_ALERTMANAGER_URL"] = "http://192.0.2.1:9093"  // TEST-NET-1: would never answer anyway
        let doc = Self.document(account: "main", delivery: "d", event: "new", findings: [(1, "unexpected_withdrawal", "high")])
        let (status, out) = try await OperatorTools.run(Self.hook, [], environment: env, stdin: Data(doc.utf8), timeout: 30)
        #expect(status == 78, "\(out)")
        #expect(out.contains("refusing plain http:// to 192.0.2.1"), "\(out)")
        env["ALERT_ALERTMANAGER_URL"] = nil
        let (unset, unsetOut) = try await OperatorTools.run(Self.hook, [], environment: env, stdin: Data(doc.utf8), timeout: 30)
        #expect(unset == 78, "\(unsetOut)")
    }
}

extension ISO8601DateFormatter {
    /// Alertmanager's timestamps (`2026-11-30T17:23:53.105Z`).
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
