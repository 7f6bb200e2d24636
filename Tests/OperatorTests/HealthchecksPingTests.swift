import ChildProcesses
import Foundation
import KrakenSimulator
import Logging
import TestSupport
import Testing

/// The healthchecks-style dead-man's switch (`[ops] ping_url`) as an operator sees it: the real `kraken-audit run`
/// against the simulator pings `<url>/start`, then `<url>` after a successful run or `<url>/<exit code>` after a
/// failed one, received by a loopback HTTP sink.
@Suite struct HealthchecksPingTests {
    /// Starts the sink; returns it, its port and the directory its requests land in.
    static func startSink(_ dir: URL) async throws -> (ChildProcess, String) {
        let portFile = dir.appendingPathComponent("sink.port").path
        let sink = try ChildProcess.start(
            try OperatorTools.tool("python3"), arguments: [OperatorTools.fixture("webhook_sink.py"), dir.path, portFile],
            environment: OperatorTools.environment)
        let up = await OperatorTools.poll(seconds: 30) { FileManager.default.fileExists(atPath: portFile) || !sink.isRunning }
        let port = try #require(
            up ? try? String(contentsOfFile: portFile, encoding: .utf8) : nil, "the sink did not start: \(sink.stdoutText)")
        return (sink, port)
    }

    /// The paths pinged so far, in order.
    static func pings(_ dir: URL) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".path") }
        return try names.sorted { Int($0.dropLast(5))! < Int($1.dropLast(5))! }.map {
            try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)
        }
    }

    @Test func runPingsStartThenSuccessOrItsExitCode() async throws {
        let dir = try OperatorTools.temporaryDirectory("ping")
        defer { try? FileManager.default.removeItem(at: dir) }
        let requests = dir.appendingPathComponent("requests")
        try FileManager.default.createDirectory(at: requests, withIntermediateDirectories: true)
        let (sink, port) = try await Self.startSink(requests)
        defer { _ = sink.waitOrKill(timeout: 0) }

        try await withSimulator(SmallSimulator.options(), logger: SmallSimulator.logger("ping-test")) { sim in
            let account = try #require(sim.accounts.first)
            let database = try TestDatabase("ping")
            let ops = "[ops]\nping_url = \"http://127.0.0.1:\(port)/ping/0f1e2d3c-uuid\"\n\n"
            let good = dir.appendingPathComponent("good.toml").path
            try
                (ConfigText.database(database.url) + ops
                + ConfigText.account(name: account.name, keyEnv: "KA_KEY", secretEnv: "KA_SECRET", apiURL: sim.baseURL.absoluteString))
                .write(toFile: good, atomically: true, encoding: .utf8)
            // The same account with a key Kraken does not know: every account refused, exit 69.
            let bad = dir.appendingPathComponent("bad.toml").path
            try
                (ConfigText.database(database.url) + ops
                + ConfigText.account(name: account.name, keyEnv: "KA_BAD_KEY", secretEnv: "KA_SECRET", apiURL: sim.baseURL.absoluteString))
                .write(toFile: bad, atomically: true, encoding: .utf8)
            var env = OperatorTools.environment
            env["KRAKEN_AUDIT_SQL_DIR"] = OperatorTools.repo.appendingPathComponent("sql").path
            env["KA_KEY"] = account.apiKey
            env["KA_SECRET"] = account.secret
            env["KA_BAD_KEY"] = "NotAKeyKrakenKnows"

            let (m, mOut) = try await OperatorTools.run(OperatorTools.binary, ["migrate", "--config", good], environment: env)
            try #require(m == 0, "\(mOut)")
            let (ok, okOut) = try await OperatorTools.run(
                OperatorTools.binary, ["run", "--config", good, "--log-level", "error"], environment: env, timeout: 180)
            #expect(ok == 0, "\(okOut)")
            #expect(try Self.pings(requests) == ["/ping/0f1e2d3c-uuid/start", "/ping/0f1e2d3c-uuid"])

            let (failed, failedOut) = try await OperatorTools.run(
                OperatorTools.binary, ["run", "--config", bad, "--log-level", "error"], environment: env, timeout: 180)
            #expect(failed != 0, "\(failedOut)")
            #expect(
                try Self.pings(requests) == [
                    "/ping/0f1e2d3c-uuid/start", "/ping/0f1e2d3c-uuid", "/ping/0f1e2d3c-uuid/start", "/ping/0f1e2d3c-uuid/\(failed)",
                ])
        }
        sink.signal(SIGTERM)
        _ = await sink.exitOrKill(timeout: 10)
    }
}
