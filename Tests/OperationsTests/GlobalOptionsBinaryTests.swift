import ChildProcesses
import Foundation
import Operations
import TestSupport
import Testing

/// Issue 16 part 4 through the real binary: the global options are accepted before the subcommand as well as
/// after it (`kraken-audit --config PATH migrate` works like `kraken-audit migrate --config PATH`), the one after
/// the subcommand wins, and `--log-level`/`--log-format`/`--backfill` take only their listed values (a bad one
/// is a usage error, exit 64, naming the values; `--help` lists them).
@Suite struct GlobalOptionsBinaryTests {
    /// A config for `database` (or an unreachable one) with one account whose secrets come from the environment.
    static func config(database: String = "postgresql://127.0.0.1:9/none?connect_timeout=5", extra: String = "") throws -> (
        path: String, dir: URL
    ) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-global-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("kraken-audit.toml").path
        let text = """
            [database]
            url = "\(database)"

            [[account]]
            name = "main"
            api_key_env = "KA_GLOBAL_KEY"
            api_secret_env = "KA_GLOBAL_SECRET"
            api_url = "http://127.0.0.1:9"

            """ + extra
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, dir)
    }

    /// Runs `kraken-audit <args>` exactly as given (no option appended); exit status and stdout + stderr.
    static func run(_ args: [String]) async throws -> (Int32, String) {
        var env = ProcessInfo.processInfo.environment
        env["KRAKEN_AUDIT_SQL_DIR"] = NightlyRunTests.repo.appendingPathComponent("sql").path
        env["KA_GLOBAL_KEY"] = "PUBKEY"
        env["KA_GLOBAL_SECRET"] = Data((0..<64).map { UInt8($0) }).base64EncodedString()
        env.removeValue(forKey: "KRAKEN_AUDIT_CONFIG")
        let p = try ChildProcess.start(NightlyRunTests.binary, arguments: args, environment: env, stdout: .capture(limit: 1 << 20))
        guard let t = await p.exitOrKill(timeout: 120) else {
            Issue.record("kraken-audit \(args) did not finish within 120 s")
            return (-1, p.stdoutText)
        }
        p.waitForOutput(timeout: 10)
        return (t.status, p.stdoutText)
    }

    /// A bad rule parameter ends every command that loads the config with exit 78 naming the key: proof that
    /// the config given before the subcommand was the one read.
    @Test(arguments: [
        ["doctor"], ["analyse"], ["rules"], ["collect"], ["report"], ["alerts"], ["run"], ["migrate"], ["findings", "list"],
        ["grant", "reader", "alice"],
    ])
    func configBeforeTheSubcommandIsRead(subcommand: [String]) async throws {
        let (path, dir) = try Self.config(extra: "[rules.off_hours_trading]\nno_such_parameter = 1\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (before, beforeOutput) = try await Self.run(["--config", path, "--log-level", "error"] + subcommand)
        let (after, afterOutput) = try await Self.run(subcommand + ["--config", path, "--log-level", "error"])
        #expect(before == 78, "\(beforeOutput)")
        #expect(beforeOutput.contains("rules.off_hours_trading.no_such_parameter"), "\(beforeOutput)")
        #expect(before == after, "\(afterOutput)")
    }

    /// `kraken-audit --config PATH migrate` migrates the database PATH names, then `rules` and `findings` work
    /// against it the same way.
    @Test func configBeforeTheSubcommandMigratesAndQueries() async throws {
        let database = try TestDatabase("globalopt")
        let (path, dir) = try Self.config(database: database.url)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, output) = try await Self.run(["--config", path, "--log-level", "error", "migrate"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("applied"), "\(output)")
        let (again, againOutput) = try await Self.run(["--config", path, "migrate", "--status"])
        #expect(again == 0, "\(againOutput)")
        let (listed, listOutput) = try await Self.run(["--config", path, "--log-format", "json", "findings"])
        #expect(listed == 0, "\(listOutput)")
        #expect(listOutput.contains("no findings"), "\(listOutput)")
        let (rules, rulesOutput) = try await Self.run(["--config", path, "rules"])
        #expect(rules == 0, "\(rulesOutput)")
        #expect(rulesOutput.contains("off_hours_trading"), "\(rulesOutput)")
    }

    /// Given both before and after the subcommand, the one after wins.
    @Test func theOptionAfterTheSubcommandWins() async throws {
        let (good, goodDir) = try Self.config()
        let (bad, badDir) = try Self.config(extra: "[rules.off_hours_trading]\nno_such_parameter = 1\n")
        defer {
            try? FileManager.default.removeItem(at: goodDir)
            try? FileManager.default.removeItem(at: badDir)
        }
        let (status1, output1) = try await Self.run(["--config", bad, "rules", "--config", good])
        #expect(status1 == 0, "\(output1)")
        let (status2, output2) = try await Self.run(["--config", good, "rules", "--config", bad])
        #expect(status2 == 78, "\(output2)")
        #expect(output2.contains("rules.off_hours_trading.no_such_parameter"), "\(output2)")
    }

    /// A bad `--log-level` or `--log-format`, before or after the subcommand, is a usage error listing the values.
    @Test(arguments: [
        ["--log-level", "loud", "rules"], ["rules", "--log-level", "loud"], ["--log-level", "loud", "findings", "list"],
    ])
    func badLogLevelIsAUsageErrorListingTheValues(args: [String]) async throws {
        let (path, dir) = try Self.config()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, output) = try await Self.run(["--config", path] + args)
        #expect(status == 64, "\(output)")
        #expect(output.contains("'loud'"), "\(output)")
        for level in LogLevel.allCases { #expect(output.contains("- \(level.rawValue)\n"), "\(output)") }
    }

    /// `--db-connections` outside 1-1000, before or after the subcommand, is a usage error naming the range.
    @Test(arguments: [["--db-connections", "0", "rules"], ["rules", "--db-connections", "1001"]])
    func databaseConnectionsOutOfRangeIsAUsageError(args: [String]) async throws {
        let (path, dir) = try Self.config()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, output) = try await Self.run(["--config", path] + args)
        #expect(status == 64, "\(output)")
        #expect(output.contains("--db-connections must be a whole number from 1 to 1000"), "\(output)")
    }

    @Test func badLogFormatAndBackfillAreUsageErrors() async throws {
        let (path, dir) = try Self.config()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (format, formatOutput) = try await Self.run(["--log-format", "xml", "doctor", "--config", path])
        #expect(format == 64, "\(formatOutput)")
        #expect(formatOutput.contains("'human' and 'json'"), "\(formatOutput)")
        let (backfill, backfillOutput) = try await Self.run(["collect", "--config", path, "--backfill", "zip"])
        #expect(backfill == 64, "\(backfillOutput)")
        #expect(backfillOutput.contains("'export' and 'paging'"), "\(backfillOutput)")
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
    }

    /// `--help` (the tool's and a subcommand's) lists the values and says the global options go either side.
    @Test func helpListsTheValues() async throws {
        let (status, help) = try await Self.run(["--help"])
        // The help is wrapped to the terminal's width: compare with single spaces.
        let output = Self.oneLine(help)
        #expect(status == 0, "\(output)")
        #expect(output.contains("trace, debug, info, notice, warning, error, critical"), "\(output)")
        #expect(output.contains("human, json"), "\(output)")
        #expect(output.contains("before or after the subcommand"), "\(output)")
        #expect(output.contains("the one after the subcommand wins"), "\(output)")
        let (sub, subHelp) = try await Self.run(["collect", "--help"])
        let subOutput = Self.oneLine(subHelp)
        #expect(sub == 0, "\(subOutput)")
        #expect(subOutput.contains("trace, debug, info, notice, warning, error, critical"), "\(subOutput)")
        #expect(subOutput.contains("export, paging"), "\(subOutput)")
    }
}
