import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// Issue 19 parts 1 and 2: `scripts/install` into a staged prefix (DESTDIR), the installed binary finding its SQL,
/// `scripts/uninstall`, completions and the man page generated from the argument parser, and an upgrade from an
/// earlier tree of the repository with a database full of data. The binary installed is the debug build
/// `scripts/test` made (`--binary`), so no test builds anything.
@Suite struct InstallTests {
    static let script = OperatorTools.repo.appendingPathComponent("scripts/install").path
    static let uninstallScript = OperatorTools.repo.appendingPathComponent("scripts/uninstall").path

    /// Runs scripts/install with `arguments` and the debug binary, staged into DESTDIR=`destdir` unless `staged` is
    /// false; fails the test on a non-zero exit.
    @discardableResult
    static func install(
        _ destdir: URL, _ arguments: [String] = ["--prefix", "/usr/local"], staged: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        var env = OperatorTools.environment
        env["DESTDIR"] = staged ? destdir.path : nil
        let args = arguments + ["--binary", OperatorTools.binary]
        let (status, out) = try await OperatorTools.run(Self.script, args, environment: env)
        #expect(status == 0, "scripts/install \(args.joined(separator: " ")) failed: \(out)", sourceLocation: sourceLocation)
        return out
    }

    static func manifest(_ destdir: URL, prefix: String = "/usr/local") throws -> [String] {
        try String(contentsOfFile: destdir.path + prefix + "/share/kraken-audit/install-manifest", encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    /// A config file for `database` (and `extra` TOML), written where `path` says.
    static func writeConfig(_ path: String, database: TestDatabase, extra: String = "") throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (ConfigText.database(database.url) + extra).write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func stagedInstallIsCompleteRunsAndUninstallsToTheConfig() async throws {
        let dest = try OperatorTools.temporaryDirectory("install")
        defer { try? FileManager.default.removeItem(at: dest) }
        try await Self.install(dest)
        let root = dest.path

        // The binary runs and finds the installed SQL next to itself (no KRAKEN_AUDIT_SQL_DIR): migrate applies
        // exactly the installed migrations.
        let bin = root + "/usr/local/bin/kraken-audit"
        #expect(FileManager.default.isExecutableFile(atPath: bin))
        let (vStatus, version) = try await OperatorTools.run(bin, ["--version"])
        #expect(vStatus == 0 && version.contains("."), "\(version)")
        let installedMigrations = try FileManager.default.contentsOfDirectory(atPath: root + "/usr/local/share/kraken-audit/sql/migrations")
            .filter { $0.hasSuffix(".sql") }.sorted()
        let repoMigrations = try FileManager.default.contentsOfDirectory(
            atPath: OperatorTools.repo.appendingPathComponent("sql/migrations").path
        )
        .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(installedMigrations == repoMigrations)
        let database = try TestDatabase("install")
        let config = dest.appendingPathComponent("test-config/kraken-audit.toml").path
        try Self.writeConfig(config, database: database)
        let (mStatus, mOut) = try await OperatorTools.run(bin, ["migrate", "--config", config])
        #expect(mStatus == 0, "\(mOut)")
        let db = try database.connect()
        defer { db.close() }
        #expect(try db.query("SELECT count(*) FROM audit.schema_migrations").rows[0].decode(0, as: Int.self) == installedMigrations.count)
        try FileManager.default.removeItem(atPath: dest.appendingPathComponent("test-config").path)

        // Everything the issue lists is there.
        for path in [
            "/usr/local/share/kraken-audit/sql/rules/unexpected_withdrawal.sql",
            "/usr/local/share/kraken-audit/sql/queries/balance_history.sql",
            "/usr/local/lib/systemd/system/kraken-audit.service", "/usr/local/lib/systemd/system/kraken-audit.timer",
            "/usr/local/lib/systemd/system/kraken-audit-watch.service",
            "/usr/local/share/bash-completion/completions/kraken-audit", "/usr/local/share/zsh/site-functions/_kraken-audit",
            "/usr/local/share/fish/vendor_completions.d/kraken-audit.fish", "/usr/local/share/man/man1/kraken-audit.1",
            "/usr/local/libexec/kraken-audit/alert-alertmanager", "/usr/local/libexec/kraken-audit/alert-email",
            "/usr/local/share/kraken-audit/examples/kraken-audit.cron", "/etc/kraken-audit/kraken-audit.toml",
        ] {
            #expect(FileManager.default.fileExists(atPath: root + path), "\(path) missing")
        }
        let service = try String(contentsOfFile: root + "/usr/local/lib/systemd/system/kraken-audit.service", encoding: .utf8)
        #expect(service.contains("ExecStart=/usr/local/bin/kraken-audit run --config /etc/kraken-audit/kraken-audit.toml"))
        let watch = try String(contentsOfFile: root + "/usr/local/lib/systemd/system/kraken-audit-watch.service", encoding: .utf8)
        #expect(watch.contains("ExecStart=/usr/local/bin/kraken-audit watch --config /etc/kraken-audit/kraken-audit.toml"))
        #expect(watch.contains("Restart=on-failure") && watch.contains("ProtectSystem=strict") && watch.contains("LimitCORE=0"))
        let conf = root + "/etc/kraken-audit/kraken-audit.toml"
        #expect((try FileManager.default.attributesOfItem(atPath: conf)[.posixPermissions] as? Int) == 0o640)
        #expect(try String(contentsOfFile: conf, encoding: .utf8).contains("hook = \"/usr/local/libexec/kraken-audit/alert-email\""))

        // The manifest lists every file installed but the config (which uninstall must keep), and only those.
        let listed = Set(try Self.manifest(dest).filter { $0.hasPrefix("f ") }.map { String($0.dropFirst(2)) })
        let present = Set(OperatorTools.files(under: dest))
        #expect(present.subtracting(listed) == ["/etc/kraken-audit/kraken-audit.toml"])
        #expect(listed.subtracting(present).isEmpty)

        // Installing again (an upgrade of the same version) never overwrites the operator's config.
        try "# the operator's own\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let again = try await Self.install(dest)
        #expect(try String(contentsOfFile: conf, encoding: .utf8) == "# the operator's own\n")
        #expect(again.contains("kept the existing /etc/kraken-audit/kraken-audit.toml"), "\(again)")

        // Uninstall leaves the config and nothing else: no file, no directory install created.
        let (uStatus, uOut) = try await OperatorTools.run(
            Self.uninstallScript, ["--prefix", "/usr/local"], environment: OperatorTools.environment.merging(["DESTDIR": root]) { $1 })
        #expect(uStatus == 0, "\(uOut)")
        #expect(OperatorTools.files(under: dest) == ["/etc/kraken-audit/kraken-audit.toml"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["etc"])
        #expect(!FileManager.default.fileExists(atPath: root + "/usr"))
    }

    @Test func anotherPrefixPointsUnitsCronAndConfigAtIt() async throws {
        let dest = try OperatorTools.temporaryDirectory("install-opt")
        defer { try? FileManager.default.removeItem(at: dest) }
        try await Self.install(dest, ["--prefix", "/opt/kraken-audit"])
        let root = dest.path + "/opt/kraken-audit"
        let service = try String(contentsOfFile: root + "/lib/systemd/system/kraken-audit.service", encoding: .utf8)
        #expect(
            service.contains(
                "ExecStart=/opt/kraken-audit/bin/kraken-audit run --config /opt/kraken-audit/etc/kraken-audit/kraken-audit.toml"))
        #expect(service.contains("LoadCredential=main.key:/opt/kraken-audit/etc/kraken-audit/credentials/main.key"))
        #expect(service.contains("Documentation=file:///opt/kraken-audit/share/kraken-audit/README.md"))
        let cron = try String(contentsOfFile: root + "/share/kraken-audit/examples/kraken-audit.cron", encoding: .utf8)
        #expect(cron.contains("PATH=/opt/kraken-audit/bin:/usr/bin:/bin"))
        #expect(cron.contains("kraken-audit run --config /opt/kraken-audit/etc/kraken-audit/kraken-audit.toml"))
        let conf = try String(contentsOfFile: root + "/etc/kraken-audit/kraken-audit.toml", encoding: .utf8)
        #expect(conf.contains("hook = \"/opt/kraken-audit/libexec/kraken-audit/alert-email\""))
        for text in [service, cron, conf] { #expect(!text.contains("/usr/local"), "\(text)") }
        #expect(FileManager.default.isExecutableFile(atPath: root + "/bin/kraken-audit"))
        #expect(FileManager.default.fileExists(atPath: root + "/share/kraken-audit/sql/migrations/0001_core.sql"))
    }

    /// systemd itself checks the installed units (keys, sections, the ExecStart binary at the prefix, the timer's
    /// unit): `systemd-analyze verify` inside a staged root holding the host's standard units, for the default
    /// layout and for another prefix with the units in /etc/systemd/system. Any warning fails the test.
    @Test(arguments: [["--prefix", "/usr/local"], ["--prefix", "/opt/kraken-audit", "--unitdir", "/etc/systemd/system"]])
    func installedUnitsPassSystemdVerify(arguments: [String]) async throws {
        let analyze = try OperatorTools.tool("systemd-analyze")
        let root = try OperatorTools.temporaryDirectory("install-units")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("usr/lib/systemd"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/usr/lib/systemd/system", toPath: root.path + "/usr/lib/systemd/system")
        try await Self.install(root, arguments)
        let (status, out) = try await OperatorTools.run(
            analyze,
            [
                "verify", "--man=no", "--generators=no", "--root=\(root.path)", "kraken-audit.service", "kraken-audit.timer",
                "kraken-audit-watch.service",
            ])
        #expect(status == 0 && out.isEmpty, "systemd-analyze verify: \(out)")
    }

    /// As root without DESTDIR the install also creates the system user, its state directory and the private
    /// config and credentials directories. Run with a throw-away user name, prefix and state directory (so the
    /// machine's real kraken-audit user and /var/lib are not touched); the user is deleted afterwards.
    @Test(.enabled(if: geteuid() == 0, "creating a system user needs root")) func rootInstallCreatesTheUserAndStateDirectories()
        async throws
    {
        let dir = try OperatorTools.temporaryDirectory("install-root")
        let user = "ka-test-\(UInt16.random(in: 1000...UInt16.max))"
        defer {
            _ = try? ChildProcess.run("/usr/sbin/userdel", arguments: [user], environment: OperatorTools.environment, timeout: 30)
            try? FileManager.default.removeItem(at: dir)
        }
        let prefix = dir.path + "/prefix"
        let state = dir.path + "/state"
        try await Self.install(dir, ["--prefix", prefix, "--user", user, "--state-dir", state], staged: false)
        let (idStatus, id) = try await OperatorTools.run(try OperatorTools.tool("id"), [user])
        #expect(idStatus == 0, "the system user was not created: \(id)")
        func owner(_ path: String) throws -> (String, String, Int) {
            let a = try FileManager.default.attributesOfItem(atPath: path)
            return (a[.ownerAccountName] as? String ?? "?", a[.groupOwnerAccountName] as? String ?? "?", a[.posixPermissions] as? Int ?? -1)
        }
        #expect(try owner(state) == (user, user, 0o750))
        #expect(try owner(state + "/reports") == (user, user, 0o750))
        #expect(try owner(prefix + "/etc/kraken-audit") == ("root", user, 0o750))
        #expect(try owner(prefix + "/etc/kraken-audit/credentials") == ("root", "root", 0o700))
        #expect(try owner(prefix + "/etc/kraken-audit/kraken-audit.toml") == ("root", user, 0o640))
        let cron = try String(contentsOfFile: prefix + "/share/kraken-audit/examples/kraken-audit.cron", encoding: .utf8)
        #expect(cron.contains("7 3 * * * \(user) flock"))
        #expect(cron.contains("--report-dir \(state)/reports"))
        // Uninstall keeps the configuration, the credentials directory and the state (data).
        let (uStatus, uOut) = try await OperatorTools.run(Self.uninstallScript, ["--prefix", prefix])
        #expect(uStatus == 0, "\(uOut)")
        #expect(!FileManager.default.fileExists(atPath: prefix + "/bin/kraken-audit"))
        for kept in [state + "/reports", prefix + "/etc/kraken-audit/kraken-audit.toml", prefix + "/etc/kraken-audit/credentials"] {
            #expect(FileManager.default.fileExists(atPath: kept), "uninstall removed \(kept)")
        }
    }

    /// The subcommand names `--help` lists (`analyse, analyze` gives `analyse`; the completion scripts of
    /// swift-argument-parser complete a command's primary name, not its aliases).
    static func subcommands(_ arguments: [String]) async throws -> [String] {
        let (status, help) = try await OperatorTools.run(OperatorTools.binary, arguments + ["--help"])
        #expect(status == 0, "\(help)")
        var names: [String] = []
        var inSection = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("SUBCOMMANDS:") {
                inSection = true
                continue
            }
            guard inSection else { continue }
            if line.isEmpty { break }
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
            let name = line.dropFirst(2).prefix { $0 != " " && $0 != "," }
            names.append(String(name))
        }
        return names
    }

    @Test func completionsAndManPageNameEverySubcommandHelpLists() async throws {
        let dest = try OperatorTools.temporaryDirectory("install-docs")
        defer { try? FileManager.default.removeItem(at: dest) }
        try await Self.install(dest)
        let share = dest.path + "/usr/local/share"
        let top = try await Self.subcommands([])
        let findings = try await Self.subcommands(["findings"])
        #expect(top.count >= 10 && top.contains("run") && top.contains("grant"), "\(top)")
        #expect(findings.contains("list") && findings.contains("suppress"), "\(findings)")

        let scripts = [
            "bash": share + "/bash-completion/completions/kraken-audit", "zsh": share + "/zsh/site-functions/_kraken-audit",
            "fish": share + "/fish/vendor_completions.d/kraken-audit.fish",
        ]
        for (shell, path) in scripts {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            for name in top + findings { #expect(text.contains(name), "\(shell) completion lacks \(name)") }
        }
        // The bash completion works: sourced into bash, it completes the subcommands.
        let bash = try OperatorTools.tool("bash")
        let complete = """
            source "$1"
            f=$(complete -p kraken-audit | sed -E 's/.*-F ([^ ]+).*/\\1/')
            COMP_WORDS=(kraken-audit ""); COMP_CWORD=1; COMP_LINE="kraken-audit "; COMP_POINT=${#COMP_LINE}
            "$f" kraken-audit "" kraken-audit
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let (bStatus, offered) = try await OperatorTools.run(bash, ["-c", complete, "bash", scripts["bash"]!])
        #expect(bStatus == 0, "\(offered)")
        let offeredWords = Set(offered.split(separator: "\n").map(String.init))
        #expect(Set(top).isSubset(of: offeredWords), "bash offered \(offeredWords.sorted())")

        // The man page names every subcommand (and the findings subcommands), and renders without a warning.
        let page = share + "/man/man1/kraken-audit.1"
        let groff = try OperatorTools.tool("groff")
        var env = OperatorTools.environment
        env["LC_ALL"] = "C.UTF-8"
        let (gStatus, warnings) = try await OperatorTools.run(groff, ["-man", "-Tutf8", "-ww", "-z", page], environment: env)
        #expect(gStatus == 0 && warnings.isEmpty, "groff: \(warnings)")
        env["MANWIDTH"] = "100"
        let (manStatus, rendered) = try await OperatorTools.run(try OperatorTools.tool("man"), ["-l", page], environment: env)
        #expect(manStatus == 0, "\(rendered)")
        #expect(rendered.contains("KRAKEN-AUDIT(1)"))
        // man may render "-" as U+2010 or U+2212 depending on the locale's tables.
        let plain = rendered.replacingOccurrences(of: "\u{2010}", with: "-").replacingOccurrences(of: "\u{2212}", with: "-")
        for name in top { #expect(plain.contains("kraken-audit \(name)"), "man page lacks kraken-audit \(name)") }
        for name in findings { #expect(plain.contains("kraken-audit findings \(name)"), "man page lacks findings \(name)") }
        // Options and their help text come from the parser too: a flag of one subcommand and an option's values.
        #expect(plain.contains("--fail-on <fail-on>"))
        #expect(plain.contains("values: trace, debug, info, notice, warning, error, critical"))
    }

    /// The "previous release" the upgrade test installs first: main after the issue-14 hardening merges, the last tree
    /// before the schema changes of issues 15 and 16 (0009 key snapshots, 0010 finding recurrence, which rewrites
    /// existing findings, 0011 append-only triggers) - so upgrading from it runs every migration added since on a
    /// database holding data. Fixed, so the test does not change meaning as history grows. No old binary is built
    /// (minutes of CI): the migrator reads its SQL at run time, so the current binary installed beside the old SQL
    /// tree creates the old schema.
    static let previousRelease = "ef61ca3"

    /// Per table of schema `audit` (as before the upgrade): its columns, row count and a checksum of its rows.
    struct TableState: Equatable, CustomStringConvertible {
        let columns: [String]
        let rows: Int
        let checksum: String
        var description: String { "\(rows) rows, md5 \(checksum)" }
    }

    static func snapshot(_ db: PGConnection, columns: [String: [String]]? = nil) throws -> [String: TableState] {
        var tables: [String: [String]] = columns ?? [:]
        if columns == nil {
            for r in try db.query(
                """
                SELECT c.table_name, c.column_name FROM information_schema.columns c
                  JOIN information_schema.tables t USING (table_schema, table_name)
                 WHERE c.table_schema = 'audit' AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position
                """
            ).rows {
                tables[try r.decode(0, as: String.self), default: []].append(try r.decode(1, as: String.self))
            }
        }
        var out: [String: TableState] = [:]
        for (table, cols) in tables {
            let list = cols.map { "\"\($0)\"" }.joined(separator: ", ")
            let row = try db.query(
                "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM (SELECT \(list) FROM audit.\"\(table)\") r"
            ).rows[0]
            out[table] = TableState(columns: cols, rows: try row.decode(0, as: Int.self), checksum: try row.decode(1, as: String.self))
        }
        return out
    }

    @Test func upgradeFromAnEarlierTreeKeepsEveryRow() async throws {
        let dest = try OperatorTools.temporaryDirectory("upgrade")
        defer { try? FileManager.default.removeItem(at: dest) }
        let prefix = dest.path + "/usr/local"
        let oldTree = dest.appendingPathComponent("old-release")
        try FileManager.default.createDirectory(at: oldTree, withIntermediateDirectories: true)
        let (gStatus, gOut) = try await OperatorTools.run(
            try OperatorTools.tool("bash"),
            [
                "-c", "set -o pipefail; git -C \"$1\" archive \"$2\" sql | tar -x -C \"$3\"", "bash", OperatorTools.repo.path,
                Self.previousRelease, oldTree.path,
            ])
        try #require(gStatus == 0, "cannot read commit \(Self.previousRelease) from git history (a shallow clone?): \(gOut)")

        // The earlier release laid out as its README said: binary in bin/, sql/ in share/kraken-audit/sql.
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: prefix + "/share/kraken-audit", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: OperatorTools.binary, toPath: prefix + "/bin/kraken-audit")
        try FileManager.default.moveItem(atPath: oldTree.path + "/sql", toPath: prefix + "/share/kraken-audit/sql")
        let oldMigrations = try FileManager.default.contentsOfDirectory(atPath: prefix + "/share/kraken-audit/sql/migrations").filter {
            $0.hasSuffix(".sql")
        }

        try await withSimulator(SmallSimulator.options(), logger: SmallSimulator.logger("upgrade-test")) { sim in
            let account = try #require(sim.accounts.first)
            let database = try TestDatabase("upgrade")
            let config = dest.path + "/etc/kraken-audit/kraken-audit.toml"
            try Self.writeConfig(
                config, database: database,
                extra: ConfigText.account(name: account.name, keyEnv: "KA_KEY", secretEnv: "KA_SECRET", apiURL: sim.baseURL.absoluteString))
            let configBefore = try Data(contentsOf: URL(fileURLWithPath: config))
            var env = OperatorTools.environment
            env["KA_KEY"] = account.apiKey
            env["KA_SECRET"] = account.secret
            let bin = prefix + "/bin/kraken-audit"

            // The old schema, filled with data.
            let (m1, m1Out) = try await OperatorTools.run(bin, ["migrate", "--config", config], environment: env)
            try #require(m1 == 0, "migrating to the old schema failed: \(m1Out)")
            let db = try database.connect()
            defer { db.close() }
            #expect(try db.query("SELECT count(*) FROM audit.schema_migrations").rows[0].decode(0, as: Int.self) == oldMigrations.count)
            try db.executeScript(
                try String(contentsOfFile: OperatorTools.fixture("upgrade-data-\(Self.previousRelease).sql"), encoding: .utf8))
            let before = try Self.snapshot(db)
            let appliedBefore = try db.query("SELECT version || ':' || checksum FROM audit.schema_migrations").rows.map {
                try $0.decode(0, as: String.self)
            }
            let emptyTables = before.filter { $0.value.rows == 0 }.map(\.key).sorted()
            #expect(emptyTables.isEmpty, "the fixture leaves tables of the old schema empty: \(emptyTables)")

            // The upgrade: this tree's install over the old one, then migrate and doctor with the installed binary.
            try await Self.install(dest)
            #expect(try Data(contentsOf: URL(fileURLWithPath: config)) == configBefore, "install changed the operator's config")
            let installed = try FileManager.default.contentsOfDirectory(atPath: prefix + "/share/kraken-audit/sql/migrations")
                .filter { $0.hasSuffix(".sql") }.sorted()
            let current = try FileManager.default.contentsOfDirectory(
                atPath: OperatorTools.repo.appendingPathComponent("sql/migrations").path
            )
            .filter { $0.hasSuffix(".sql") }.sorted()
            #expect(installed == current)
            #expect(installed.count > oldMigrations.count)
            let (m2, m2Out) = try await OperatorTools.run(bin, ["migrate", "--config", config], environment: env)
            #expect(m2 == 0, "\(m2Out)")
            // Nothing lost (compared right after migrate; doctor then records the key it checked): every table of the
            // old schema holds the same rows in its old columns (new columns may have appeared); the migration history
            // only grew.
            let after = try Self.snapshot(db, columns: before.mapValues(\.columns))
            for (table, state) in before.sorted(by: { $0.key < $1.key }) where table != "schema_migrations" {
                #expect(after[table] == state, "audit.\(table): before \(state), after \(after[table].map { "\($0)" } ?? "missing")")
            }
            #expect(try db.query("SELECT count(*) FROM audit.schema_migrations").rows[0].decode(0, as: Int.self) == current.count)
            // Each migration applied before is still recorded, with the checksum it was applied with.
            let applied = try db.query("SELECT version || ':' || checksum FROM audit.schema_migrations").rows.map {
                try $0.decode(0, as: String.self)
            }
            #expect(Set(appliedBefore).isSubset(of: Set(applied)), "before \(appliedBefore), after \(applied)")
            let (d, dOut) = try await OperatorTools.run(bin, ["doctor", "--config", config], environment: env)
            #expect(d == 0, "doctor after the upgrade: \(dOut)")

            // Migration 0010 carried each finding's detections over into the new occurrences column.
            #expect(
                try db.query("SELECT count(*) FROM audit.findings WHERE occurrences <> detections").rows[0].decode(0, as: Int.self) == 0)
            // And the upgraded data reads through the new binary's queries.
            let (l, listed) = try await OperatorTools.run(
                bin, ["findings", "list", "--status", "all", "--json", "--config", config], environment: env)
            #expect(l == 0, "\(listed)")
            #expect(listed.contains("Finding 12 <b>&amp;</b>"), "\(listed.prefix(2000))")
        }
    }
}
