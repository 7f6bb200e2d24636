import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import TestSupport
import Testing

/// `kill -9` of a real `kraken-audit collect` process at seeded random moments, then a re-run: nothing lost,
/// nothing duplicated (each page is stored with its cursor in one transaction).
@Suite struct KillTests {
    static var repo: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    @Test func killAtRandomPointsThenRerun() async throws {
        try await Harness.with(
            scale: 1500, max: 10, decay: 30,
            configure: { o in
                o.faults = [FaultRule(kind: .liveInserts, rate: 0.2)]
            }
        ) { h in
            let a = h.sim.accounts[0]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-kill-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let config = dir.appendingPathComponent("kraken-audit.toml").path
            try
                (ConfigText.database(h.database.url)
                + ConfigText.account(
                    name: a.name, keyEnv: "KA_KEY", secretEnv: "KA_SECRET", apiURL: h.sim.baseURL.absoluteString, rateLimit: (10, 30),
                    timeoutSeconds: 5))
                .write(toFile: config, atomically: true, encoding: .utf8)
            var env = ProcessInfo.processInfo.environment
            env["KA_KEY"] = a.apiKey
            env["KA_SECRET"] = a.secret
            env["KRAKEN_AUDIT_SQL_DIR"] = Self.repo.appendingPathComponent("sql").path

            func start() throws -> ChildProcess {
                try ChildProcess.start(
                    Self.repo.appendingPathComponent(".build/debug/kraken-audit").path,
                    arguments: ["collect", "--config", config, "--log-level", "error"],
                    environment: env, stdout: .capture(limit: 1 << 20))
            }

            var rng = SplitMix(seed: 20_261_126)
            var killed = 0
            for _ in 0..<8 {
                let p = try start()
                let delay = Double(rng.next() % 800) / 1000 + 0.05
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                if p.isRunning {
                    p.signal(SIGKILL)
                    killed += 1
                }
                #expect(await p.exitOrKill(timeout: 180) != nil)
            }
            #expect(killed >= 4, "most runs should have been killed mid-way")
            await h.sim.state.clearFaults()
            await h.advanceClock(60)
            let final = try start()
            #expect(await final.exitOrKill(timeout: 300) == .exited(0), "\(final.stdoutText.suffix(4000))")
            try await h.expectStoredEqualsTruth(a.name)
            // Killed runs are marked interrupted by the next run; the last one succeeded.
            #expect(try h.count("SELECT count(*) FROM audit.collector_runs WHERE status = 'success'") >= 1)
            #expect(try h.count("SELECT count(*) FROM audit.collector_runs WHERE status = 'running'") == 0)
            let interrupted = try h.count("SELECT count(*) FROM audit.collector_runs WHERE status = 'interrupted'")
            #expect(interrupted >= 1 && interrupted <= killed)  // a process killed before its run row existed leaves none
        }
    }
}
