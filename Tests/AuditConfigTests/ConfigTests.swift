import AuditConfig
import Foundation
import KrakenAPI
import Testing

@Suite struct ConfigTests {
    static let full = """
        [database]
        url = "postgresql://audit@db.internal/kraken"

        [ops]
        timezone = "Europe/Berlin"
        ping_url = "https://hc.example.org/ping/abc"

        [[account]]
        name = "main"
        api_key_env = "KRAKEN_MAIN_KEY"
        api_secret_env = "KRAKEN_MAIN_SECRET"
        otp_env = "KRAKEN_MAIN_OTP"
        api_url = "https://api.kraken.com"
        tier = "intermediate"
        key_created = 2026-01-15

        [[account]]
        name = "treasury"
        api_key_file = "/etc/kraken-audit/treasury.key"
        api_secret_command = ["pass", "kraken/treasury"]
        api_url = "http://127.0.0.1:8080"
        rate_limit = { max = 15, decay_per_second = 0.5 }
        timezone = "America/New_York"

        [alerts]
        hook = "/etc/kraken-audit/alert-email"
        min_severity = "high"
        timeout_seconds = 10
        renotify_after_hours = 12

        [rules.unexpected_withdrawal]
        allowlist = { XXBT = ["bc1qcold"], XETH = ["cold-wallet"] }
        """

    @Test func fullExampleParses() throws {
        let c = try ConfigLoader.parse(Self.full, path: "test.toml")
        #expect(c.database.url == "postgresql://audit@db.internal/kraken")
        #expect(c.accounts.map(\.name) == ["main", "treasury"])
        let main = c.accounts[0]
        #expect(main.apiKey == .env("KRAKEN_MAIN_KEY"))
        #expect(main.otp == .env("KRAKEN_MAIN_OTP"))
        #expect(main.tier == .intermediate)
        #expect(main.rateLimit == RateLimit(max: 20, decayPerSecond: 0.5))
        #expect(main.keyCreated == "2026-01-15")
        #expect(main.timezone == "Europe/Berlin")
        let t = c.accounts[1]
        #expect(t.apiKey == .file("/etc/kraken-audit/treasury.key"))
        #expect(t.apiSecret == .command(["pass", "kraken/treasury"]))
        #expect(t.rateLimit == RateLimit(max: 15, decayPerSecond: 0.5))
        #expect(t.tier == .starter)
        #expect(t.timezone == "America/New_York")
        #expect(c.alerts?.minSeverity == "high")
        #expect(c.alerts?.timeoutSeconds == 10)
        #expect(c.ops.pingURL == "https://hc.example.org/ping/abc")
        #expect(
            c.rules["unexpected_withdrawal"]?.values["allowlist"]
                == .table(["XXBT": .array([.string("bc1qcold")]), "XETH": .array([.string("cold-wallet")])]))
    }

    @Test func theShippedExampleParses() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let c = try ConfigLoader.load(path: url.appendingPathComponent("scripts/kraken-audit.example.toml").path)
        #expect(!c.accounts.isEmpty)
    }

    func error(_ text: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(text, path: "k.toml")
            return nil
        } catch {
            return error
        }
    }

    static let account = "[[account]]\nname = \"a\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n"

    @Test func errorsNameTheKeyPath() {
        #expect(
            error(Self.account + "tier = \"gold\"")
                == .invalidValue(path: "account[0].tier", reason: "'gold' is not one of starter, intermediate, pro"))
        #expect(error(Self.account + "tiers = \"pro\"") == .unknownKey(path: "account[0].tiers"))
        #expect(
            error(Self.account + "timeout_seconds = \"10\"")
                == .wrongType(path: "account[0].timeout_seconds", expected: "a number", found: "a string"))
        #expect(error(Self.account + Self.account) == .duplicateAccount(name: "a"))
        #expect(error("[databse]\nurl = \"x\"") == .unknownKey(path: "databse"))
        #expect(error("[database]\nurl = 5") == .wrongType(path: "database.url", expected: "a string", found: "an integer"))
        #expect(error("[[account]]\napi_key_env = \"K\"\napi_secret_env = \"S\"") == .missingKey(path: "account[0].name"))
        #expect(error("[[account]]\nname = \"a\"\napi_secret_env = \"S\"") == .missingKey(path: "account[0].api_key_env | api_key_file"))
        #expect(
            error(Self.account + "api_secret_file = \"/x\"")
                == .invalidValue(path: "account[0].api_secret_file", reason: "set only one of api_secret_env, api_secret_file"))
        #expect(
            error(Self.account + "rate_limit = { max = 0 }")
                == .invalidValue(path: "account[0].rate_limit.max", reason: "must be a finite number from 1 to 1000000000, not 0"))
        #expect(error(Self.account + "rate_limit = { maximum = 3 }") == .unknownKey(path: "account[0].rate_limit.maximum"))
        #expect(
            error(Self.account + "key_created = \"15.01.2026\"")
                == .invalidValue(path: "account[0].key_created", reason: "'15.01.2026' is not a date like 2026-01-15"))
        #expect(
            error(Self.account + "timezone = \"Mars/Olympus\"")
                == .invalidValue(path: "account[0].timezone", reason: "'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)"))
        #expect(
            error("[alerts]\nhook = \"/x\"\nmin_severity = \"urgent\"")
                == .invalidValue(path: "alerts.min_severity", reason: "'urgent' is not one of info, low, medium, high, critical"))
        if case .syntax(let path, let line, _, _) = error("[[account]\nname=") {
            #expect(path == "k.toml")
            #expect(line == 1)
        } else {
            Issue.record("expected a syntax error")
        }
    }

    @Test func plainHTTPToANonLoopbackHostIsRefused() {
        let e = error(Self.account + "api_url = \"http://api.kraken.com\"")
        guard case .invalidValue(let path, let reason) = e else {
            Issue.record("expected invalidValue, got \(String(describing: e))")
            return
        }
        #expect(path == "account[0].api_url")
        #expect(reason.contains("https://"))
    }

    /// `[[account]] ws_url` (issue 20): `wss://` anywhere, `ws://` only to loopback, like `api_url`; Kraken's by default.
    @Test(arguments: [
        ("ws_url = \"ws://ws-auth.kraken.com/v2\"", "wss://"), ("ws_url = \"https://ws-auth.kraken.com/v2\"", "wss://"),
        ("ws_url = \"wss://user:pw@ws-auth.kraken.com/v2\"", "user or password"), ("ws_url = \"ws-auth.kraken.com/v2\"", "not a valid URL"),
    ])
    func webSocketURLsOutsideTheRulesAreRefused(line: String, fix: String) {
        let e = error(Self.account + line)
        guard case .invalidValue(let path, let reason) = e else {
            Issue.record("expected invalidValue, got \(String(describing: e))")
            return
        }
        #expect(path == "account[0].ws_url")
        #expect(reason.contains(fix), "\(reason)")
    }

    @Test func webSocketURLDefaultsToKrakensAndLoopbackWsIsAllowed() throws {
        #expect(try ConfigLoader.parse(Self.account, path: "k.toml").accounts[0].webSocketURL == "wss://ws-auth.kraken.com/v2")
        let local = try ConfigLoader.parse(
            Self.account + "ws_url = \"ws://127.0.0.1:9/v2\"\n[watch]\ngroup_seconds = 2.5\n", path: "k.toml")
        #expect(local.accounts[0].webSocketURL == "ws://127.0.0.1:9/v2")
        #expect(local.watch.groupSeconds == 2.5)
        #expect(try ConfigLoader.parse(Self.account, path: "k.toml").watch.groupSeconds == 0)
    }

    @Test func locateOrder() throws {
        #expect(throws: ConfigError.self) { try ConfigLoader.locate(explicit: "/nonexistent/k.toml") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ka-\(UUID().uuidString).toml").path
        try "".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.locate(explicit: nil, environment: ["KRAKEN_AUDIT_CONFIG": file]) == file)
        #expect(try ConfigLoader.locate(explicit: file, environment: ["KRAKEN_AUDIT_CONFIG": "/nope"]) == file)
    }
}

@Suite struct SecretReaderTests {
    func tempFile(_ content: String, mode: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ka-secret-\(UUID().uuidString)").path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test func privateFileIsRead() throws {
        let path = try tempFile("  c2VjcmV0\n", mode: 0o600)
        #expect(try SecretReader().read(.file(path), key: "api_secret").unsafeStringValue() == "c2VjcmV0")
    }

    @Test func groupOrWorldReadableFileIsRefusedLikeSSH() throws {
        for mode in [0o640, 0o604, 0o660, 0o644] {
            let path = try tempFile("c2VjcmV0", mode: mode)
            let e = #expect(throws: SecretError.self) { try SecretReader().read(.file(path), key: "api_secret") }
            #expect(e == .filePermissions(path: path, mode: String(format: "%04o", mode)))
            #expect(e?.description.contains("chmod 600 \(path)") == true)
        }
    }

    @Test func missingAndEmptySources() throws {
        #expect(throws: SecretError.envNotSet(variable: "NOPE", key: "api_key")) {
            try SecretReader(environment: [:]).read(.env("NOPE"), key: "api_key")
        }
        #expect(throws: SecretError.fileMissing(path: "/nonexistent/s", key: "api_secret")) {
            try SecretReader().read(.file("/nonexistent/s"), key: "api_secret")
        }
        let empty = try tempFile("\n", mode: 0o600)
        #expect(throws: SecretError.self) { try SecretReader().read(.file(empty), key: "api_secret") }
    }

    @Test func commandSource() throws {
        let r = SecretReader(environment: ["PATH": "/usr/bin:/bin", "PASSWORD_STORE_DIR": "from-env", "KRAKEN_OTHER_SECRET": "leak"])
        // The command sees what password managers need, never other secrets given to kraken-audit.
        #expect(
            try r.read(.command(["sh", "-c", "printf '%s%s\\n' \"$PASSWORD_STORE_DIR\" \"$KRAKEN_OTHER_SECRET\""]), key: "api_secret")
                .unsafeStringValue() == "from-env")
        let failing = #expect(throws: SecretError.self) { try r.read(.command(["sh", "-c", "echo nope >&2; exit 3"]), key: "api_secret") }
        #expect(failing?.description.contains("exit status 3: nope") == true)
        let slow = SecretReader(environment: ["PATH": "/usr/bin:/bin"], commandTimeout: 0.5)
        let timedOut = #expect(throws: SecretError.self) { try slow.read(.command(["sleep", "30"]), key: "api_secret") }
        #expect(timedOut?.description.contains("timed out") == true)
    }
}

/// `backfill = "export" | "paging"` per account (issue 10).
@Suite struct BackfillConfigTests {
    static let account = "[[account]]\nname = \"a\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n"

    func parse(_ text: String) throws -> AuditConfiguration { try ConfigLoader.parse(text, path: "k.toml") }

    @Test func backfillIsOptionalAndValidated() throws {
        #expect(try parse(Self.account).accounts[0].backfill == nil)
        #expect(try parse(Self.account + "backfill = \"export\"").accounts[0].backfill == .export)
        #expect(try parse(Self.account + "backfill = \"paging\"").accounts[0].backfill == .paging)
        #expect(throws: ConfigError.invalidValue(path: "account[0].backfill", reason: "'zip' is not one of export, paging")) {
            try parse(Self.account + "backfill = \"zip\"")
        }
        #expect(throws: ConfigError.wrongType(path: "account[0].backfill", expected: "a string", found: "a boolean")) {
            try parse(Self.account + "backfill = true")
        }
    }
}
