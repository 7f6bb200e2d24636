import AuditKernel
import ChildProcesses
import Foundation
import KrakenAPI
import Testing

/// Issue 14: the shipped hook scripts pass hostile text and awkward passwords through intact and inert.
@Suite struct AlertScriptSafetyTests {
    static var repo: URL { AlertEmailTests.repo }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-hook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Starts a fixture server (`Fixtures/<script>`) that writes its port to a file; returns it and the port.
    static func startSink(_ script: String, _ arguments: [String], portFile: String) throws -> (ChildProcess, String) {
        let server = try ChildProcess.start(
            "/usr/bin/python3", arguments: [repo.appendingPathComponent("Tests/AlertsTests/Fixtures/\(script)").path] + arguments,
            environment: ProcessInfo.processInfo.environment)
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: portFile), Date() < deadline, server.isRunning { usleep(50_000) }
        let port = try #require(try? String(contentsOfFile: portFile, encoding: .utf8), "\(script) did not start: \(server.stdoutText)")
        return (server, port)
    }

    /// The alert document's fields the scripts read (schema kraken-audit.alert/1), with a hostile title.
    static let alert = """
        {"schema":"kraken-audit.alert/1","subject":"[kraken-audit] 1 high finding on account main","account":"main",
         "run_id":7,"delivery_id":"d-1","findings":[{"id":1,"severity":"high","rule_id":"unexpected_withdrawal",
         "title":"Withdrawal to <!channel> <https://evil.example|your bank> & @all","event":"new",
         "inspect":"kraken-audit findings show 1","acknowledge":"kraken-audit findings ack 1"}]}
        """

    @Test func slackWebhookTextIsEscaped() throws {
        let dir = try Self.temporaryDirectory()
        let portFile = dir.appendingPathComponent("port").path
        let (server, port) = try Self.startSink("http_sink.py", [dir.path, portFile], portFile: portFile)
        defer { server.signal(SIGTERM) }
        var env = ProcessInfo.processInfo.environment
        env["ALERT_WEBHOOK_URL"] = "http://127.0.0.1:\(port)/hook"
        env["ALERT_WEBHOOK_FORMAT"] = "slack"
        let (t, out) = try ChildProcess.run(
            Self.repo.appendingPathComponent("scripts/alert-webhook").path, environment: env, stdin: Data(Self.alert.utf8), timeout: 60)
        #expect(t == .exited(0), "\(out)")
        let body = try Data(contentsOf: dir.appendingPathComponent("1.body"))
        let text = try #require(try JSONValue.parse(Array(body))["text"]?.stringValue)
        #expect(text.contains("Withdrawal to &lt;!channel&gt; &lt;https://evil.example|your bank&gt; &amp; @\u{2060}all"), "\(text)")
        #expect(!text.contains("<"))
        #expect(!text.contains(">"))
        #expect(!text.contains("@all"))
        #expect(text.contains("• [HIGH]"))
        #expect(text.hasPrefix("[kraken-audit] 1 high finding on account main\n"))
    }

    @Test func smtpPasswordWithQuotesBackslashesSpacesAndDollarAuthenticates() throws {
        let dir = try Self.temporaryDirectory()
        let mail = dir.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        let password = #"p"a\ss w$rd \"x\\ $(id) `q` ' end\"#
        let credentials = dir.appendingPathComponent("smtp-credentials.json").path
        try JSONValue.object([("user", .string("alerts@example.org")), ("password", .string(password))]).jsonText
            .write(toFile: credentials, atomically: true, encoding: .utf8)
        let passwordFile = dir.appendingPathComponent("smtp.password").path
        try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile)
        let portFile = dir.appendingPathComponent("port").path
        let (server, port) = try Self.startSink("smtp_sink.py", [mail.path, portFile, credentials], portFile: portFile)
        defer { server.signal(SIGTERM) }

        var env = ProcessInfo.processInfo.environment
        env["ALERT_SMTP_URL"] = "smtp://127.0.0.1:\(port)"
        env["ALERT_FROM"] = "kraken-audit@example.org"
        env["ALERT_TO"] = "sec@example.org"
        env["ALERT_SMTP_USER"] = "alerts@example.org"
        env["ALERT_SMTP_PASSWORD_FILE"] = passwordFile
        let (t, out) = try ChildProcess.run(
            Self.repo.appendingPathComponent("scripts/alert-email").path, environment: env, stdin: Data(Self.alert.utf8), timeout: 60)
        let authLog = (try? String(contentsOfFile: mail.appendingPathComponent("auth.log").path, encoding: .utf8)) ?? "(no AUTH attempt)"
        #expect(t == .exited(0), "\(out) auth: \(authLog)")
        #expect(authLog == "ok\n")
        let eml = mail.appendingPathComponent("1.eml").path
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: eml), Date() < deadline { usleep(50_000) }
        #expect(FileManager.default.fileExists(atPath: eml))
        #expect(!out.contains("w$rd"))  // the password is never echoed
    }
}
