import Alerts
import AuditConfig
import ChildProcesses
import Foundation
import KrakenAPI
import TestSupport
import Testing

/// The shipped scripts/alert-email hook against a real SMTP server on loopback (aiosmtpd).
@Suite struct AlertEmailTests {
    static var repo: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    @Test func emailArrivesWithSubjectRecipientsAndFindings() throws {
        let fx = try AlertFixture("email")
        let run = try fx.run()
        try fx.finding(severity: "high", title: "Withdrawal of 35 XETH to an address not in the allowlist, 03:12 Europe/Berlin", runId: run)
        try fx.finding(severity: "high", title: "Nonce errors on key sha256:0123456789abcdef", runId: run)

        let mail = fx.dir.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        let portFile = fx.dir.appendingPathComponent("port").path
        let smtp = try ChildProcess.start(
            "/usr/bin/python3",
            arguments: [Self.repo.appendingPathComponent("Tests/AlertsTests/Fixtures/smtp_sink.py").path, mail.path, portFile],
            environment: ProcessInfo.processInfo.environment)
        defer { smtp.signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: portFile), Date() < deadline { usleep(50_000) }
        let port = try #require(try? String(contentsOfFile: portFile, encoding: .utf8))

        let d = fx.delivery(
            hook: Self.repo.appendingPathComponent("scripts/alert-email").path, timeout: 20,
            environment: [
                "ALERT_SMTP_URL": "smtp://127.0.0.1:\(port)", "ALERT_FROM": "kraken-audit@example.org",
                "ALERT_TO": "sec@example.org, ops@example.org", "KRAKEN_MAIN_SECRET": "nope-secret",
            ])
        let s = try d.deliverPending(on: fx.db)
        #expect(
            s.delivered == 2,
            "\(String(describing: try? fx.db.query("SELECT last_error FROM audit.alert_outbox").rows.first?.decodeOptional(0, as: String.self)))"
        )
        let eml = mail.appendingPathComponent("1.eml").path
        let arrived = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: eml), Date() < arrived { usleep(50_000) }
        let message = try String(contentsOfFile: eml, encoding: .utf8)
        let envelope = try String(contentsOfFile: mail.appendingPathComponent("1.env").path, encoding: .utf8)
        #expect(message.contains("Subject: [kraken-audit] 2 high findings on account main"))
        #expect(message.contains("To: sec@example.org, ops@example.org"))
        #expect(message.contains("From: kraken-audit@example.org"))
        #expect(envelope.contains("to=sec@example.org,ops@example.org"))
        #expect(message.contains("Withdrawal of 35 XETH to an address not in the allowlist"))
        #expect(message.contains("Content-Type: text/html"))
        #expect(message.contains("kraken-audit findings show"))
        #expect(!message.contains("nope-secret"))
    }
}
