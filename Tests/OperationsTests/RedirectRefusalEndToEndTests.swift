import ChildProcesses
import Foundation
import KrakenAPI
import Operations
import TestSupport
import Testing

/// Issue 14 item 1 end to end: `kraken-audit collect` against an endpoint that redirects every call to another
/// host sends nothing there, names the redirect, and exits 69 (the configuration is wrong; retrying will not
/// help by itself, unlike 75).
@Suite struct RedirectRefusalEndToEndTests {
    /// Runs `kraken-audit collect` for one account whose `api_url` is `http://127.0.0.1:port` (plus `extra` lines in
    /// its `[[account]]` table), against a migrated throw-away database; returns the exit status and output.
    static func collect(port: UInt16, extra: [String] = []) async throws -> (Int32, String) {
        let database = try TestDatabase("endpoint")
        try database.migrated().close()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-endpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("kraken-audit.toml").path
        try
            (ConfigText.database(database.url)
            + ConfigText.account(
                name: "main", keyEnv: "KA_KEY", secretEnv: "KA_SECRET", apiURL: "http://127.0.0.1:\(port)", timeoutSeconds: 20, extra: extra
            ))
            .write(toFile: config, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["KRAKEN_AUDIT_SQL_DIR"] = NightlyRunTests.repo.appendingPathComponent("sql").path
        env["KA_KEY"] = "PUBLIC-KEY"
        env["KA_SECRET"] = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
        let p = try ChildProcess.start(
            NightlyRunTests.binary,
            arguments: ["collect", "--config", config, "--log-level", "error", "--export-dir", dir.appendingPathComponent("exports").path],
            environment: env, stdout: .capture(limit: 1 << 20))
        return await NightlyRunTests.finish(p, timeout: 120)
    }

    @Test func collectAgainstARedirectingEndpointExits69() async throws {
        #expect(ExitStatus.forError(KrakenError.redirected(method: "Balance", status: 307, host: "127.0.0.2:1")) == .unavailable)
        #expect(ExitStatus.forError(KrakenError.responseTooLarge(method: "Ledgers", limit: 1)) == .unavailable)

        let thief = try LoopbackHTTPServer(host: "127.0.0.2") { _ in
            .response(status: 200, headers: [], body: Array(#"{"error":[],"result":{}}"#.utf8))
        }
        defer { thief.stop() }
        let endpoint = try LoopbackHTTPServer { _ in
            .response(status: 307, headers: [("Location", "http://127.0.0.2:\(thief.port)/steal?token=SECRET-TOKEN")], body: [])
        }
        defer { endpoint.stop() }
        let (status, output) = try await Self.collect(port: endpoint.port)
        #expect(status == 69, "exit \(status): \(output)")
        #expect(output.contains("a redirect to 127.0.0.2:\(thief.port)") && output.contains("never follows redirects"), "\(output)")
        #expect(!output.contains("SECRET-TOKEN"))
        #expect(!endpoint.requests.isEmpty)
        #expect(thief.requests.isEmpty, "the redirect target received: \(thief.requests)")
    }

    /// `[[account]] max_response_mib` reaches the transport: with 1 MiB, `collect` refuses a 2 MiB answer
    /// (exit 69, the error names the limit) instead of reading it.
    @Test func maxResponseMibFromTheConfigCapsAnswers() async throws {
        let big =
            Array(#"{"error":[],"result":{"unixtime":1,"pad":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 2 << 20)
            + Array(#""}}"#.utf8)
        let endpoint = try LoopbackHTTPServer { _ in .response(status: 200, headers: [("Content-Type", "application/json")], body: big) }
        defer { endpoint.stop() }
        let (status, output) = try await Self.collect(port: endpoint.port, extra: ["max_response_mib = 1"])
        #expect(status == 69, "exit \(status): \(output)")
        #expect(output.contains("1048576") || output.contains("1 MiB"), "\(output)")
    }
}
