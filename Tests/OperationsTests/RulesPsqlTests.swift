import Analyser
import AuditConfig
import ChildProcesses
import Foundation
import Testing

/// Issue 14 item 5: `kraken-audit rules --psql` prints a command line a shell runs exactly as meant, whatever a
/// configured value or the rule file's path holds, and refuses an account it does not know.
@Suite struct RulesPsqlTests {
    struct Setup {
        let dir: URL
        let sqlDir: String
        let config: String
        let markers: [String]
    }

    /// A copy of sql/ in a directory whose name a shell would expand (`$(...)`, backquotes, `$HOME`, quote,
    /// spaces), plus a rule with a `string` parameter (no shipped rule has one any more) and a config whose values
    /// try to run commands.
    static func setup(accounts: [String] = ["main", "treasury"]) throws -> Setup {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-psql-\(UUID().uuidString)")
        let sqlDir = dir.appendingPathComponent("sql dir $(touch pwned-dir) `touch pwned-dir2` it's $HOME").path
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: NightlyRunTests.repo.appendingPathComponent("sql").path, toPath: sqlDir)
        try """
        -- id: probe
        -- title: Probe for shell quoting
        -- severity: low
        -- entity: account
        -- param: label string "x" | Any text.
        -- catches: nothing
        -- false positives: none

        SELECT :'account_id'::integer AS a, :'label'::text AS l, :'now'::timestamptz AS n, :'timezone'::text AS tz,
               :'changed_after'::timestamptz AS c;
        """.write(toFile: sqlDir + "/rules/probe.sql", atomically: true, encoding: .utf8)
        let markers = ["pwned-label", "pwned-label2", "pwned-allow", "pwned-dir", "pwned-dir2"].map { dir.appendingPathComponent($0).path }
        let label = #"$(touch \#(markers[0]))`touch \#(markers[1])` it's \"quoted\"; echo $HOME \\ end"#
        var toml = "[ops]\ntimezone = \"Europe/Berlin\"\n\n"
        for name in accounts {
            toml += "[[account]]\nname = \"\(name)\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n\n"
        }
        toml += """
            [rules.probe]
            label = "\(label)"

            [rules.unexpected_withdrawal]
            allowlist = { XXBT = [{ address = "$(touch \(markers[2]))" }, { address = "bc1qa35ls3egf0872h3w", name = "it's `x`" }] }

            """
        let config = dir.appendingPathComponent("kraken-audit.toml").path
        try toml.write(toFile: config, atomically: true, encoding: .utf8)
        return Setup(dir: dir, sqlDir: sqlDir, config: config, markers: markers)
    }

    static func rules(_ s: Setup, _ args: [String]) async throws -> (Int32, String, String) {
        let p = try ChildProcess.start(
            NightlyRunTests.binary, arguments: ["rules"] + args + ["--config", s.config, "--sql-dir", s.sqlDir],
            environment: ProcessInfo.processInfo.environment, stdout: .capture(limit: 1 << 20), stderr: .capture(limit: 1 << 20))
        guard let t = await p.exitOrKill(timeout: 120) else {
            Issue.record("kraken-audit rules did not finish")
            return (-1, "", "")
        }
        p.waitForOutput(timeout: 10)
        return (t.status, p.stdoutText, p.stderrText)
    }

    /// Runs `command` with /bin/sh in `s.dir`, with a fake `psql` first on PATH that records its arguments
    /// (NUL-separated) and answers the account-id lookup with 42. Returns the outer call's and the lookup's argv.
    static func evaluate(_ command: String, _ s: Setup) async throws -> (outer: [String], lookup: [String]) {
        let bin = s.dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let fake = bin.appendingPathComponent("psql").path
        try """
        #!/bin/sh
        if [ "$2" = "-At" ]; then out="$PSQL_RECORD.lookup"; else out="$PSQL_RECORD.outer"; fi
        : > "$out"
        for a in "$@"; do printf '%s\\0' "$a" >> "$out"; done
        if [ "$2" = "-At" ]; then echo 42; fi
        """.write(toFile: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: fake)
        let record = s.dir.appendingPathComponent("argv").path
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin.path + ":/usr/bin:/bin"
        env["PSQL_RECORD"] = record
        env["CMD"] = command
        env["WORKDIR"] = s.dir.path
        let syntax = try ChildProcess.start("/bin/sh", arguments: ["-n", "-c", command], environment: env)
        #expect(await syntax.exitOrKill(timeout: 60) == .exited(0), "sh -n refused: \(syntax.stdoutText)")
        let p = try ChildProcess.start("/bin/sh", arguments: ["-c", #"cd "$WORKDIR" && eval "$CMD""#], environment: env)
        let t = await p.exitOrKill(timeout: 60)
        p.waitForOutput(timeout: 10)
        #expect(t == .exited(0), "\(p.stdoutText)")
        func argv(_ path: String) throws -> [String] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        }
        return (try argv(record + ".outer"), try argv(record + ".lookup"))
    }

    @Test(arguments: ["probe", "unexpected_withdrawal"])
    func printedCommandRoundTripsEveryValueAndRunsNothingElse(rule: String) async throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let (status, command, errors) = try await Self.rules(s, ["--psql", rule, "--account", "treasury"])
        #expect(status == 0, "\(errors)")

        let (outer, lookup) = try await Self.evaluate(command, s)
        for marker in s.markers {
            #expect(!FileManager.default.fileExists(atPath: marker), "the printed command ran `touch \(marker)`")
        }
        #expect(lookup == ["-X", "-At", "-c", "SELECT id FROM audit.accounts WHERE name = 'treasury'"])

        // What psql must receive: every placeholder with the configured value, then the rule file.
        let config = try ConfigLoader.load(path: s.config)
        let catalogue = try RuleCatalogue(directory: URL(fileURLWithPath: s.sqlDir).appendingPathComponent("rules"))
        let settings = try #require(try ruleSettings(catalogue: catalogue, config: config.rules).first { $0.rule.id == rule })
        var expected = ["-X"]
        for name in settings.rule.placeholders {
            switch name {
            case "account_id": expected += ["-v", "account_id=42"]
            case "changed_after", "occurred_after": expected += ["-v", "\(name)=-infinity"]
            case "timezone": expected += ["-v", "timezone=\(settings.timezone(forAccount: "Europe/Berlin"))"]
            case "now": expected += ["-v", outer.first { $0.hasPrefix("now=") } ?? "now=?"]
            default: expected += ["-v", "\(name)=\(settings.binds[name] ?? "")"]
            }
        }
        expected += ["-f", settings.rule.path]
        #expect(outer == expected)
        #expect(settings.rule.path.contains("$(touch pwned-dir)"))
        if let now = outer.first(where: { $0.hasPrefix("now=") }) {
            #expect(now.range(of: #"^now=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression) != nil, "\(now)")
        } else {
            #expect(!settings.rule.placeholders.contains("now"))
        }
        if rule == "probe" { #expect(outer.contains { $0.hasPrefix("label=$(touch ") }) }
    }

    @Test func unknownAccountIsAUsageErrorNamingTheKnownOnes() async throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let (status, output, errors) = try await Self.rules(s, ["--psql", "probe", "--account", "mian"])
        #expect(status == 64)
        #expect(output.isEmpty)
        #expect(errors.contains("unknown account 'mian'") && errors.contains("main, treasury"), "\(errors)")
        // Several accounts and no --account: which one is meant is not guessed.
        let (status2, output2, errors2) = try await Self.rules(s, ["--psql", "probe"])
        #expect(status2 == 64)
        #expect(output2.isEmpty)
        #expect(errors2.contains("--account") && errors2.contains("main, treasury"), "\(errors2)")
    }

    @Test func theOnlyAccountNeedsNoFlag() async throws {
        let s = try Self.setup(accounts: ["main"])
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let (status, output, errors) = try await Self.rules(s, ["--psql", "probe"])
        #expect(status == 0, "\(errors)")
        #expect(output.contains("name = '\\''main'\\''"), "\(output)")
    }
}
