import AuditKernel
import ChildProcesses
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

/// Proves the simulator is not tied to our client: signatures made by `openssl`, requests sent by `curl`.
@Suite("Simulator with curl + openssl and the executable")
struct ExternalClientTests {
    static let tools = ["/usr/bin/curl", "/usr/bin/openssl", "/bin/bash"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs a tool to completion without holding a thread of the cooperative pool: the in-process simulator
    /// it talks to needs them.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let p = try ChildProcess.start(executable, arguments: arguments, environment: env, stderr: .discard)
        let termination = await p.exitOrKill(timeout: 60)
        p.waitForOutput(timeout: 5)
        return (termination?.status ?? -1, p.stdoutText)
    }

    /// The same recipe as `kraken-simulator --help` prints.
    static let script = #"""
        set -euo pipefail
        NONCE=$(date +%s%3N); BODY="nonce=$NONCE&asset=XBT%2CZUSD&ofs=0"; P=/0/private/Ledgers
        HEXKEY=$(printf %s "$SECRET" | base64 -d | od -An -v -tx1 | tr -d ' \n')
        SIG=$( { printf %s "$P"; printf %s "$NONCE$BODY" | openssl dgst -sha256 -binary; } \
              | openssl dgst -sha512 -mac HMAC -macopt hexkey:$HEXKEY -binary | base64 -w0 )
        curl -s -X POST "$URL$P" -H "API-Key: $KEY" -H "API-Sign: $SIG" \
             -H "Content-Type: application/x-www-form-urlencoded" --data "$BODY"
        """#

    @Test(.enabled(if: tools)) func curlAndOpensslSignedLedgersCall() async throws {
        let sim = try await TestSim.start()
        let a = sim.accounts[0]
        let (status, out) = try await Self.run(
            "/bin/bash", ["-c", Self.script], environment: ["URL": sim.baseURL.absoluteString, "KEY": a.apiKey, "SECRET": a.secret])
        #expect(status == 0)
        let json = try JSONValue.parse(out)
        #expect(json["error"]?.arrayValue == [])
        #expect(json["result"]?["ledger"]?.membersCount == 50)
        let assets = Set(json["result"]?["ledger"]?.objectMembers?.compactMap { $0.1["asset"]?.stringValue } ?? [])
        #expect(assets.isSubset(of: ["XXBT", "ZUSD"]))
        await sim.stop()
    }

    static var executable: String? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [
            dir, dir.deletingLastPathComponent(),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"),
        ] {
            let path = candidate.appendingPathComponent("kraken-simulator").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    @Test(.enabled(if: tools && executable != nil)) func executablePrintsURLAndCredentialsAndServes() async throws {
        let exe = try #require(Self.executable)
        let creds = FileManager.default.temporaryDirectory.appendingPathComponent("sim-creds-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: creds) }
        let p = try ChildProcess.start(
            exe, arguments: ["--seed", "1", "--days", "30", "--scale", "200", "--end", "2026-11-01", "--credentials-file", creds],
            environment: ProcessInfo.processInfo.environment, stderr: .discard)
        defer { p.signal(SIGKILL) }
        var text = ""
        let found = await eventually(20) {
            text = p.stdoutText
            return text.contains("account=acct2")
        }
        #expect(found, "output: \(text)")
        let lines = text.split(separator: "\n")
        let url = try #require(lines.first { $0.hasPrefix("url=") }).dropFirst(4)
        let acct1 = try #require(lines.first { $0.hasPrefix("account=acct1 ") })
        var fields: [String: String] = [:]
        for part in acct1.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        let (status, body) = try await Self.run(
            "/bin/bash", ["-c", Self.script],
            environment: ["URL": String(url), "KEY": fields["key"] ?? "", "SECRET": fields["secret"] ?? ""])
        #expect(status == 0)
        #expect(try JSONValue.parse(body)["error"]?.arrayValue == [])
        let attributes = try FileManager.default.attributesOfItem(atPath: creds)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let credsJSON = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: creds))))
        #expect(credsJSON["accounts"]?.arrayValue?.first?["secret"]?.stringValue == fields["secret"])
        p.signal(SIGTERM)
        #expect(await p.exit(timeout: 10) != nil)
    }
}
