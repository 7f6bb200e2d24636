import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import TestSupport
import Testing

/// `kill -9` of a real `kraken-audit collect` process at seeded random moments, then a re-run: nothing lost,
/// nothing duplicated (each page is stored with its cursor in one transaction), and every hash chain verifies; then
/// `kraken-audit seal` killed at random moments and run again: the digests and their files verify (issue 17).
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
            // Every chain still verifies: a killed transaction leaves no half link (issue 17).
            let chains = try ChainVerifier(db: h.db).verify()
            #expect(chains.problems.isEmpty, "\(chains.problems.map(\.detail))")

            // Sealing killed at random moments, then sealed again: the digests and their files verify.
            let binary = Self.repo.appendingPathComponent(".build/debug/kraken-audit").path
            let keygen = try ChildProcess.run(
                binary, arguments: ["keygen", "--out", dir.appendingPathComponent("digest.key").path], environment: env, timeout: 60)
            #expect(keygen.termination == .exited(0), "\(keygen.output)")
            let digests = dir.appendingPathComponent("digests").path
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: config))
            handle.seekToEndOfFile()
            handle.write(
                Data(
                    "\n[integrity]\nsigning_key_file = \"\(dir.appendingPathComponent("digest.key").path)\"\ndigest_dir = \"\(digests)\"\n"
                        .utf8))
            try handle.close()
            func command(_ arguments: [String]) throws -> ChildProcess {
                try ChildProcess.start(
                    binary, arguments: arguments + ["--config", config, "--log-level", "error"], environment: env,
                    stdout: .capture(limit: 1 << 20))
            }
            var sealsKilled = 0
            for _ in 0..<8 {
                let p = try command(["seal"])
                try await Task.sleep(for: .milliseconds(Int(rng.next() % 150) + 5))
                if p.isRunning {
                    p.signal(SIGKILL)
                    sealsKilled += 1
                }
                #expect(await p.exitOrKill(timeout: 120) != nil)
            }
            let seal = try command(["seal"])
            #expect(await seal.exitOrKill(timeout: 120) == .exited(0), "\(seal.stdoutText)")
            let verify = try command(["verify"])
            #expect(await verify.exitOrKill(timeout: 120) == .exited(0), "\(verify.stdoutText.suffix(4000))")
            #expect(verify.stdoutText.contains("INTACT"), "\(verify.stdoutText.suffix(2000))")
            // And a change behind the tool's back is named by the command (exit 1).
            let id = try h.db.query("SELECT ledger_id FROM audit.ledger_entries ORDER BY time LIMIT 1").rows[0].decode(0, as: String.self)
            try h.db.transaction {
                try h.db.executeScript("SET LOCAL session_replication_role = replica")
                _ = try h.db.execute("UPDATE audit.ledger_entry_versions SET fee = fee + 1 WHERE ledger_id = $1", [id])
            }
            let tampered = try command(["verify"])
            #expect(await tampered.exitOrKill(timeout: 120) == .exited(1))
            #expect(
                tampered.stdoutText.contains("TAMPERING FOUND") && tampered.stdoutText.contains(id), "\(tampered.stdoutText.suffix(2000))")
            #expect(tampered.stdoutText.contains("changed: fee"), "\(tampered.stdoutText.suffix(2000))")
        }
    }
}
