import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import TestSupport
import Testing

/// `kill -9` of a real `kraken-audit collect --backfill export --wait` at seeded random moments (the download is
/// slowed so some kills land in it, the import of ~20k rows takes long enough for others), then a clean run:
/// the store equals the truth, each report imported exactly once.
@Suite struct ExportKillTests {
    static var repo: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    @Test func killDuringDownloadAndImportThenRerun() async throws {
        try await ExportHarness.with(
            scale: 16_000,
            configure: { o in
                o.faults = [FaultRule(kind: .slow, rate: 1, methods: ["RetrieveExport"])]
                o.slowSeconds = 0.6
            }
        ) { h in
            let a = h.sim.accounts[0]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-export-kill-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let config = dir.appendingPathComponent("kraken-audit.toml").path
            try
                (ConfigText.database(h.database.url)
                + ConfigText.account(
                    name: a.name, keyEnv: "KA_KEY", secretEnv: "KA_SECRET", apiURL: h.sim.baseURL.absoluteString, rateLimit: (20, 200),
                    timeoutSeconds: 30, extra: ["backfill = \"export\""]))
                .write(toFile: config, atomically: true, encoding: .utf8)
            var env = ProcessInfo.processInfo.environment
            env["KA_KEY"] = a.apiKey
            env["KA_SECRET"] = a.secret
            env["KRAKEN_AUDIT_SQL_DIR"] = Self.repo.appendingPathComponent("sql").path

            let stderrPath = dir.appendingPathComponent("stderr.log").path
            #expect(FileManager.default.createFile(atPath: stderrPath, contents: nil))
            func start() throws -> ChildProcess {
                try ChildProcess.start(
                    Self.repo.appendingPathComponent(".build/debug/kraken-audit").path,
                    arguments: [
                        "collect", "--config", config, "--log-level", "error", "--wait", "--export-dir",
                        dir.appendingPathComponent("exports").path,
                    ],
                    environment: env, stdout: .discard, stderr: .file(stderrPath))
            }

            var rng = SplitMix(seed: 20_261_127)
            var killed = 0
            var observed = Set<String>()
            for _ in 0..<8 {
                let p = try start()
                let delay = Double(rng.next() % 1600) / 1000 + 0.2
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                if p.isRunning {
                    p.signal(SIGKILL)
                    killed += 1
                    for s in try h.db.query("SELECT status FROM audit.exports").rows { observed.insert(try s.decode(0, as: String.self)) }
                }
                #expect(await p.exitOrKill(timeout: 180) != nil)
            }
            #expect(killed >= 3, "most runs should have been killed mid-way")
            #expect(
                observed.contains("processed") || observed.contains("downloaded"), "kills should land in download or import: \(observed)")
            await h.sim.state.clearFaults()
            let statesBefore = try h.exportStatuses()
            let finalStarted = ContinuousClock.now
            let final = try start()
            #expect(
                await final.exitOrKill(timeout: 300) == .exited(0),
                "\((try? String(contentsOfFile: stderrPath, encoding: .utf8))?.suffix(2000) ?? "")")
            // The runs use --wait's default --poll-seconds (30) on purpose, as an operator would (the re-run once slept
            // whole intervals, 107 s in CI; ExportTests.everyReportIsRequestedFirstAndWaitPollsSoon pins the fix).
            // Not asserted here: a time bound on a kill test under CPU load would make it flaky.
            let finalTook = ContinuousClock.now - finalStarted
            print("ExportKillTests: the re-run took \(finalTook), starting from \(statesBefore)")
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            #expect(try h.count("SELECT count(*) FROM audit.exports WHERE status = 'imported'") == 2)
            try await h.expectStoredEqualsTruth()
        }
    }
}
