import AuditConfig
import ChildProcesses
import Foundation
import TestSupport
import Testing

/// Issue 14 items 3 and 4 through the real binary: numbers that parse but used to trap (SIGILL in
/// FoundationNetworking for `timeout_seconds = inf`, "Double value cannot be converted to Int" = exit 132 for
/// `renotify_after_hours = inf`) and rule parameters that used to fail only at run time now end every command
/// that loads the configuration with exit 78 naming the key path.
@Suite struct ConfigValidationBinaryTests {
    static let base = """
        [database]
        url = "postgresql://127.0.0.1:9/none?connect_timeout=5"

        [[account]]
        name = "main"
        api_key_env = "KA_CFG_KEY"
        api_secret_env = "KA_CFG_SECRET"
        api_url = "http://127.0.0.1:9"

        """

    /// Runs `kraken-audit <args> --config <file holding text>`; returns the exit status (128 + signal when killed)
    /// and stdout + stderr.
    static func run(_ args: [String], config text: String) async throws -> (Int32, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-cfgbin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("kraken-audit.toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["KRAKEN_AUDIT_SQL_DIR"] = NightlyRunTests.repo.appendingPathComponent("sql").path
        env["KA_CFG_KEY"] = "PUBKEY"
        env["KA_CFG_SECRET"] = Data((0..<64).map { UInt8($0) }).base64EncodedString()
        let p = try ChildProcess.start(
            NightlyRunTests.binary, arguments: args + ["--config", path, "--log-level", "error"], environment: env,
            stdout: .capture(limit: 1 << 20))
        guard let t = await p.exitOrKill(timeout: 120) else {
            Issue.record("kraken-audit \(args) did not finish within 120 s")
            return (-1, p.stdoutText)
        }
        p.waitForOutput(timeout: 10)
        return (t.status, p.stdoutText)
    }

    @Test(arguments: [
        (["doctor"], "timeout_seconds = inf\n", "account[0].timeout_seconds"),
        (["doctor"], "timeout_seconds = 1e300\n", "account[0].timeout_seconds"),
        (["doctor"], "[alerts]\nhook = \"/bin/true\"\nrenotify_after_hours = inf\n", "alerts.renotify_after_hours"),
        (["alerts"], "[alerts]\nhook = \"/bin/true\"\nrenotify_after_hours = inf\n", "alerts.renotify_after_hours"),
        (["alerts"], "[alerts]\nhook = \"/bin/true\"\ntimeout_seconds = nan\n", "alerts.timeout_seconds"),
    ])
    func reviewReproductionsExit78WithTheKeyPath(args: [String], extra: String, path: String) async throws {
        let (status, output) = try await Self.run(args, config: Self.base + extra)
        #expect(status == 78, "\(output)")
        #expect(output.contains("'\(path)'"), "\(output)")
    }

    /// The review's `alerts` crash needs a reachable, migrated database (the conversion happened while queueing
    /// re-notifications): with one, `renotify_after_hours = inf` used to end with exit 132.
    @Test func renotifyInfinityWithAReachableDatabaseExits78() async throws {
        let database = try TestDatabase("cfgbin")
        try database.migrated().close()
        let text =
            Self.base.replacingOccurrences(of: "postgresql://127.0.0.1:9/none?connect_timeout=5", with: database.url)
            + "[alerts]\nhook = \"/bin/true\"\nrenotify_after_hours = inf\n"
        let (status, output) = try await Self.run(["alerts"], config: text)
        #expect(status == 78, "\(output)")
        #expect(output.contains("'alerts.renotify_after_hours'"), "\(output)")
    }

    /// Issue 15 item 1: an allowlist of address-book names (the old example's `XETH = ["eth-ledger"]`) is refused:
    /// the account taker chooses the names.
    @Test(arguments: [["doctor"], ["analyse"]])
    func aNamesOnlyWithdrawalAllowlistExits78SayingWhy(args: [String]) async throws {
        let (status, output) = try await Self.run(
            args, config: Self.base + "[rules.unexpected_withdrawal]\nallowlist = { XETH = [\"eth-ledger\"] }\n")
        #expect(status == 78, "\(output)")
        #expect(output.contains("rules.unexpected_withdrawal.allowlist.XETH[0]"), "\(output)")
        #expect(output.contains("'eth-ledger' looks like an address-book name"), "\(output)")
        #expect(output.contains("Names cannot be trusted"), "\(output)")
    }

    @Test(arguments: [["doctor"], ["analyse"], ["run"], ["rules"]])
    func aBadRuleParameterIsRefusedWhenTheConfigIsLoaded(args: [String]) async throws {
        let (status, output) = try await Self.run(
            args, config: Self.base + "[rules.unexpected_withdrawal]\nnew_asset_severity = \"High\"\n")
        #expect(status == 78, "\(output)")
        #expect(output.contains("rules.unexpected_withdrawal.new_asset_severity"), "\(output)")
    }

    @Test(arguments: [
        ("[rules.unexpected_withdrawal]\nmax_amount = { XXBT = \"½\" }\n", "rules.unexpected_withdrawal.max_amount.XXBT"),
        ("[rules.ledger_gap]\ntolerance = \"١٢\"\n", "rules.ledger_gap.tolerance"),
        ("[rules.key_rotation_due]\nrotate_after_days = 9223372036854775807\n", "rules.key_rotation_due.rotate_after_days"),
        ("[rules.trade_size_outlier]\nmin_ratio = 0\n", "rules.trade_size_outlier.min_ratio"),
        ("[rules.off_hours_trading]\nholidays = [\"0000-01-01\"]\n", "rules.off_hours_trading.holidays[0]"),
    ])
    func ruleParameterNearMissesExit78(rules: String, path: String) async throws {
        let (status, output) = try await Self.run(["rules"], config: Self.base + rules)
        #expect(status == 78, "\(output)")
        #expect(output.contains(path), "\(output)")
    }

    /// A handful of random numeric values through `doctor`: never a crash; 78 with the key path exactly when the
    /// value is outside its range.
    @Test func randomNumbersNeverCrashDoctor() async throws {
        var rng = SplitMix(seed: 0x1403_0003)
        for _ in 0..<12 {
            let key = rng.pick(NumericKey.all)
            let (literal, value) = NumericKeyValues.random(for: key, rng: &rng)
            let (config, path) = NumericKeyValues.place(key, literal: literal, in: Self.base)
            let (status, output) = try await Self.run(["doctor"], config: config)
            #expect(status < 128 && status >= 0, "\(key) = \(literal) crashed doctor (\(status)): \(output)")
            if NumericKeyValues.acceptable(key, value) {
                #expect(status != 78, "\(key) = \(literal) refused: \(output)")
            } else {
                #expect(status == 78, "\(key) = \(literal): \(status) \(output)")
                #expect(output.contains("'\(path)'"), "\(output)")
            }
        }
    }
}

/// Random values for numeric keys, written into the base config of ``ConfigValidationBinaryTests``.
enum NumericKeyValues {

    static func random(for key: NumericKey, rng: inout SplitMix) -> (String, Double) {
        let specials: [(String, Double)] = [
            ("inf", .infinity), ("-inf", -.infinity), ("nan", .nan), ("1e300", 1e300), ("-1", -1), ("0", 0), ("0.5", 0.5),
            ("\(key.range.upperBound + 1)", key.range.upperBound + 1), ("\(key.range.lowerBound)", key.range.lowerBound),
        ]
        if rng.next() % 2 == 0 { return rng.pick(specials) }
        let v = key.range.lowerBound + (key.range.upperBound - key.range.lowerBound) * rng.unit()
        return ("\(v)", v)
    }

    static func acceptable(_ key: NumericKey, _ value: Double) -> Bool {
        value.isFinite && key.range.contains(value) && (key.kind == .number || value == value.rounded())
    }

    /// Lines appended to the base config (which ends inside its one `[[account]]`), and the key path.
    /// `base` (which has a `[database]` table and ends inside `[[account]]`) with `key = literal` placed; the key's path.
    static func place(_ key: NumericKey, literal: String, in base: String) -> (String, String) {
        let line = "\(key.name) = \(literal)\n"
        switch key.table {
        case "account": return (base + line, "account[0].\(key.name)")
        case "account.rate_limit": return (base + "rate_limit = { \(key.name) = \(literal) }\n", "account[0].rate_limit.\(key.name)")
        case "database": return (base.replacingOccurrences(of: "[database]\n", with: "[database]\n" + line), "database.\(key.name)")
        case "alerts": return (base + "[alerts]\nhook = \"/bin/true\"\n" + line, "alerts.\(key.name)")
        default: return (base + "[\(key.table)]\n" + line, "\(key.table).\(key.name)")
        }
    }
}
