import ChildProcesses
import Foundation
import Testing

/// Paths and child-process helpers shared by the operator tests (install, Alertmanager, browser).
enum OperatorTools {
    /// The repository root (this file is Tests/OperatorTests/OperatorTools.swift).
    static let repo: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// The debug binary `scripts/test` built (the install tests install it with `--binary`, so they build nothing).
    static var binary: String { repo.appendingPathComponent(".build/debug/kraken-audit").path }

    static func fixture(_ name: String) -> String { repo.appendingPathComponent("Tests/OperatorTests/Fixtures/\(name)").path }

    /// A program `scripts/setup` installs (`chromium`, `prometheus-alertmanager`, `pdftotext`, `groff`, `man`). A
    /// missing one is a failure, not a skip: the setup is broken then.
    struct MissingTool: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) is not installed: run scripts/setup (it installs it), then the tests again" }
    }

    static func tool(_ name: String) throws -> String {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw MissingTool(name: name)
    }

    /// A fresh directory under the temporary directory.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The test's environment without the variables that would steer the binary to the source tree's SQL.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["KRAKEN_AUDIT_SQL_DIR"] = nil
        env["KRAKEN_AUDIT_CONFIG"] = nil
        return env
    }

    /// Runs `executable` to the end (killed after `timeout` seconds) without holding a thread of the cooperative
    /// pool; returns the exit status (-1 when it had to be killed) and stdout+stderr.
    static func run(
        _ executable: String, _ arguments: [String] = [], environment: [String: String] = OperatorTools.environment, stdin: Data? = nil,
        timeout: Double = 120
    ) async throws -> (status: Int32, output: String) {
        let p = try ChildProcess.start(
            executable, arguments: arguments, environment: environment, stdin: stdin, stdout: .capture(limit: 8 << 20))
        guard let t = await p.exit(timeout: timeout) else {
            _ = await p.exitOrKill(timeout: 0)
            p.waitForOutput(timeout: 2)
            return (-1, "\(executable) did not finish within \(Int(timeout)) s and was killed; output: \(p.stdoutText.suffix(4000))")
        }
        p.waitForOutput(timeout: 10)
        return (t.status, p.stdoutText)
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
    static func poll(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return try await condition()
    }

    /// Every regular file under `root`, as paths relative to it, sorted.
    static func files(under root: URL) -> [String] {
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var out: [String] = []
        for case let url as URL in e where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            out.append(String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count)))
        }
        return out.sorted()
    }
}
