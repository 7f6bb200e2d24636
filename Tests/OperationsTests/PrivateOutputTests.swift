import ChildProcesses
import Foundation
import TestSupport
import Testing

/// Issue 14 item 2: reports, CSV tables and the directories kraken-audit creates for them are private (0600 /
/// 0700) whatever the umask; the Prometheus textfile stays 0644 for node_exporter. The real binary, started
/// under `umask 022` (a cron job's or a login shell's usual umask).
@Suite struct PrivateOutputTests {
    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    /// Runs the binary through `sh -c 'umask 022; exec ...'`, so only the child gets the umask.
    static func runUnderUmask022(_ s: NightlyRunTests.Setup, _ args: [String]) async throws -> (Int32, String) {
        let p = try ChildProcess.start(
            "/bin/sh",
            arguments: ["-c", "umask 022 && exec \"$0\" \"$@\"", NightlyRunTests.binary] + args + [
                "--config", s.config, "--log-level", "error",
            ],
            environment: s.env, stdout: .capture(limit: 4 << 20))
        return await NightlyRunTests.finish(p)
    }

    @Test func reportsAndCSVsArePrivateUnderUmask022TextfileStaysReadable() async throws {
        try await NightlyRunTests.withSetup { s in
            let (migrated, migrateOut) = try await NightlyRunTests.run(s, ["migrate"])
            try #require(migrated == 0, "\(migrateOut)")

            // report --format html --output r.html (the done-when)
            let html = s.dir.appendingPathComponent("r.html").path
            let (code, out) = try await Self.runUnderUmask022(s, ["report", "--format", "html", "--output", html])
            #expect(code == 0, "\(out)")
            #expect(Self.mode(html) == 0o600, "r.html is \(Self.mode(html).map { String($0, radix: 8) } ?? "missing")")

            // csv into a directory that does not exist yet: directories 0700, files 0600.
            let csv = s.dir.appendingPathComponent("exports/nov").path
            let (csvCode, csvOut) = try await Self.runUnderUmask022(s, ["report", "--format", "csv", "--output", csv])
            #expect(csvCode == 0, "\(csvOut)")
            for d in [s.dir.appendingPathComponent("exports").path, csv] { #expect(Self.mode(d) == 0o700, "\(d)") }
            for f in ["findings.csv", "withdrawals.csv", "trades.csv"] { #expect(Self.mode("\(csv)/\(f)") == 0o600, "\(f)") }

            // run: the dated report set (and its new directory) private, the textfile world-readable.
            let reports = s.dir.appendingPathComponent("out/reports").path
            let metrics = s.dir.appendingPathComponent("kraken_audit.prom").path
            let (runCode, runOut) = try await Self.runUnderUmask022(
                s, ["run", "--account", "acct1", "--report-dir", reports, "--metrics-file", metrics])
            #expect(runCode == 0 || runCode == 4, "\(runOut)")
            for d in [s.dir.appendingPathComponent("out").path, reports] { #expect(Self.mode(d) == 0o700, "\(d)") }
            let written = try FileManager.default.contentsOfDirectory(atPath: reports)
            #expect(Set(written.compactMap { $0.split(separator: ".").last.map(String.init) }) == ["md", "html", "json"], "\(written)")
            for f in written { #expect(Self.mode("\(reports)/\(f)") == 0o600, "\(f)") }
            #expect(Self.mode(metrics) == 0o644)
        }
    }
}
