import ChildProcesses
import Foundation
import Testing

/// Issue 14 item 15: the shell scripts stop at a failing step with that step's own error, instead of carrying
/// on with a stale binary or an empty value. Each script runs for real with fake tools first on PATH (no
/// build, no database), so these stay cheap.
@Suite struct ScriptFailureTests {
    static var repo: URL { NightlyRunTests.repo }

    static func workDirectory(_ name: String = "ka-script-\(UUID().uuidString)") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func tool(_ dir: URL, _ name: String, _ body: String) throws {
        let path = dir.appendingPathComponent(name).path
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    static func run(_ script: String, _ arguments: [String] = [], environment: [String: String]) async throws -> (Int32, String) {
        let p = try ChildProcess.start(
            repo.appendingPathComponent(script).path, arguments: arguments, environment: environment, stdout: .capture(limit: 1 << 20))
        return await NightlyRunTests.finish(p, timeout: 120)
    }

    @Test func demoStopsWhenTheBuildFailsAndRunsNoStaleBinary() async throws {
        let dir = try Self.workDirectory()
        let fakes = dir.appendingPathComponent("bin")
        let stale = dir.appendingPathComponent("stale")
        try FileManager.default.createDirectory(at: fakes, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
        let ran = dir.appendingPathComponent("ran").path
        // A build that fails, while executables from an older build are still there.
        try Self.tool(
            fakes, "swift",
            """
            case "$*" in
              *--show-bin-path*) echo '\(stale.path)' ;;
              *) echo "error: fake compile failure in Sources/Reports/Renderers.swift:42" >&2; exit 1 ;;
            esac
            """)
        for name in ["kraken-audit", "kraken-simulator"] { try Self.tool(stale, name, "echo \(name) >> '\(ran)'") }
        try Self.tool(fakes, "pg_virtualenv", "echo pg_virtualenv >> '\(ran)'")
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = "\(fakes.path):/usr/sbin:/usr/bin:/sbin:/bin"
        let (code, out) = try await Self.run("scripts/demo", environment: env)
        #expect(code != 0, "\(out)")
        #expect(out.contains("error: fake compile failure"), "\(out)")
        #expect(
            !FileManager.default.fileExists(atPath: ran),
            "ran after a failed build: \((try? String(contentsOfFile: ran, encoding: .utf8)) ?? "")")
    }

    @Test func benchExportPassesPathsSafelyAndStopsOnAFailingStep() async throws {
        // A temporary directory whose name has a quote: spliced into Python source it is a syntax error.
        let tmp = try Self.workDirectory("ka-script-\(UUID().uuidString.prefix(8))-o'brien")
        let fakes = tmp.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: fakes, withIntermediateDirectories: true)
        let createdb = tmp.appendingPathComponent("createdb.log").path
        // The "database" refuses, so the script stops there; it records the key the script exported.
        try Self.tool(fakes, "createdb", "echo \"KA_KEY=$KA_KEY\" >> \"\(createdb)\"; echo 'createdb: fake refusal' >&2; exit 1")
        try Self.tool(fakes, "dropdb", "exit 0")
        let simulator = tmp.appendingPathComponent("fake-simulator").path
        let creds = tmp.appendingPathComponent("creds-content.json").path
        try Self.tool(
            tmp, "fake-simulator",
            """
            while [ $# -gt 0 ]; do [ "$1" = --credentials-file ] && out=$2; shift; done
            cp "\(creds)" "$out"
            echo url=http://127.0.0.1:9
            exec sleep 60
            """)
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = "\(fakes.path):/usr/bin:/bin"
        env["TMPDIR"] = tmp.path
        env["KRAKEN_SIMULATOR"] = simulator

        // Good credentials file: the key arrives intact (path passed as an argument), then createdb's failure stops it.
        try #"{"accounts":[{"api_key":"KEY-1","secret":"U0VDUkVU"}]}"#.write(toFile: creds, atomically: true, encoding: .utf8)
        let (code, out) = try await Self.run("scripts/bench-export", ["10", "10"], environment: env)
        #expect(code != 0, "\(out)")
        #expect(out.contains("createdb: fake refusal"), "\(out)")
        #expect((try? String(contentsOfFile: createdb, encoding: .utf8)) == "KA_KEY=KEY-1\n", "\(out)")

        // Unreadable credentials: the script stops at that step with Python's error, before any database work.
        try FileManager.default.removeItem(atPath: createdb)
        try "not json".write(toFile: creds, atomically: true, encoding: .utf8)
        let (badCode, badOut) = try await Self.run("scripts/bench-export", ["10", "10"], environment: env)
        #expect(badCode != 0, "\(badOut)")
        #expect(badOut.contains("JSONDecodeError"), "\(badOut)")
        #expect(!FileManager.default.fileExists(atPath: createdb), "carried on after the failing step: \(badOut)")
    }
}
