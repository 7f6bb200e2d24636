import AuditStore
import ChildProcesses
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// A unique secret planted in the configuration must appear nowhere: logs at every level (trace included),
/// the database (dumped), reports, metrics, the alert hook's stdin and environment, error messages.
@Suite struct SecretLeakTests {
    @Test func plantedSecretAppearsNowhere() async throws {
        try await NightlyRunTests.withSetup { s in
            let secret = s.sim.accounts[0].secret
            let apiKey = s.sim.accounts[0].apiKey
            let reports = s.dir.appendingPathComponent("reports").path
            let metrics = s.dir.appendingPathComponent("metrics.prom").path
            #expect(try await NightlyRunTests.run(s, ["migrate"]).0 == 0)
            var outputs: [String] = []
            for args in [
                ["doctor", "--log-level", "trace"],
                ["run", "--report-dir", reports, "--metrics-file", metrics, "--log-level", "trace"],
                ["run", "--report-dir", reports, "--metrics-file", metrics, "--log-level", "trace", "--log-format", "json"],
                ["report", "--format", "json", "--log-level", "trace"],
                ["alerts", "--test", "--log-level", "trace"],
                ["collect", "--log-level", "trace"],
            ] {
                outputs.append(try await NightlyRunTests.runRaw(s, args).1)
            }
            // A wrong secret for one account: the error message names the problem, not the value.
            let bad = NightlyRunTests.Setup(
                sim: s.sim, database: s.database, dir: s.dir, config: s.config,
                env: s.env.merging(["SECRET_0": "not-base64-\(secret)"]) { _, n in n })
            outputs.append(try await NightlyRunTests.runRaw(bad, ["collect", "--account", "acct1", "--log-level", "trace"]).1)

            let dump = try ChildProcess.start(
                "/usr/bin/pg_dump", arguments: ["--data-only", s.database.name], environment: ProcessInfo.processInfo.environment,
                stdout: .capture(limit: 256 << 20), stderr: .inherit)
            let (dumpStatus, dumped) = await NightlyRunTests.finish(dump)
            #expect(dumpStatus == 0)
            #expect(dumped.contains("api_calls"))  // the dump has content

            var haystacks = outputs + [dumped]
            for dir in [reports, s.dir.appendingPathComponent("alerts").path] {
                for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                    haystacks.append((try? String(contentsOfFile: "\(dir)/\(f)", encoding: .utf8)) ?? "")
                }
            }
            haystacks.append((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "")
            #expect(haystacks.count > 8)
            for h in haystacks {
                #expect(!h.contains(secret))
                #expect(!h.contains(String(secret.prefix(24))))
                #expect(!h.contains(apiKey))  // the public key is not stored or logged either: only its fingerprint
            }
            #expect(outputs.joined().contains("trace") || outputs.joined().contains("\"level\":\"trace\""))
        }
    }
}
