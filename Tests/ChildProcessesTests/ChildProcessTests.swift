import ChildProcesses
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The child-process layer under alert hooks, secret commands and the tests that drive the real binaries.
@Suite struct ChildProcessTests {
    let env = ["PATH": "/usr/bin:/bin", "ONLY": "this"]

    @Test func exitStatusOutputAndExactEnvironment() throws {
        let (t, out) = try ChildProcess.run(
            "/bin/sh", arguments: ["-c", "echo out; echo err >&2; env | sort; exit 7"], environment: env, timeout: 10)
        #expect(t == .exited(7))
        #expect(t?.status == 7)
        #expect(out.contains("out\n") && out.contains("err\n"))
        #expect(out.contains("ONLY=this"))
        #expect(!out.contains("HOME="))
    }

    @Test func stdinIsFedAndStreamsCanBeSeparate() async throws {
        let p = try ChildProcess.start(
            "/bin/sh", arguments: ["-c", "cat; echo oops >&2"], environment: env, stdin: Data("payload\n".utf8),
            stdout: .capture(limit: 100), stderr: .capture(limit: 100))
        #expect(await p.exit(timeout: 10) == .exited(0))
        #expect(p.waitForOutput(timeout: 5))
        #expect(p.stdoutText == "payload\n")
        #expect(p.stderrText == "oops\n")
        p.wipeCapturedOutput()
        #expect(p.stdout.isEmpty)
    }

    @Test func deadlineKillsAndReaps() async throws {
        let p = try ChildProcess.start("/bin/sleep", arguments: ["30"], environment: env)
        let started = Date()
        #expect(await p.exitOrKill(timeout: 0.2, grace: 0.5) == nil)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(p.termination == .signalled(SIGTERM))
        #expect(kill(p.pid, 0) == -1 && errno == ESRCH)  // reaped: no zombie left
    }

    @Test func signalledChildReportsTheSignal() throws {
        let (t, _) = try ChildProcess.run("/bin/sh", arguments: ["-c", "kill -TERM $$"], environment: env, timeout: 10)
        #expect(t == .signalled(SIGTERM))
        #expect(t?.status == 143)
    }

    /// A parent that blocks SIGTERM (as a process with a signal source does) does not pass that on: the child
    /// still dies of SIGTERM.
    @Test func childDoesNotInheritBlockedSignals() throws {
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGTERM)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let p = try ChildProcess.start("/bin/sleep", arguments: ["30"], environment: env)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 5) == .signalled(SIGTERM))
    }

    @Test func captureKeepsTheLastBytes() throws {
        let p = try ChildProcess.start(
            "/bin/sh", arguments: ["-c", "head -c 200000 /dev/zero | tr '\\0' a; echo END"], environment: env, stdout: .capture(limit: 1000)
        )
        #expect(p.wait(timeout: 10) == .exited(0))
        #expect(p.waitForOutput(timeout: 5))
        #expect(p.stdout.count == 1000)
        #expect(p.stdoutText.hasSuffix("aaaEND\n"))
    }

    @Test func outputToAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = try ChildProcess.start("/bin/sh", arguments: ["-c", "echo one; echo two >&2"], environment: env, stdout: .file(path))
        #expect(p.wait(timeout: 10) == .exited(0))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo\n")
        #expect(((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func missingExecutableIsAnError() {
        #expect(throws: ChildProcessError.self) {
            _ = try ChildProcess.start("/nonexistent/tool", environment: env)
        }
        do {
            _ = try ChildProcess.start("/nonexistent/tool", environment: env)
        } catch {
            #expect(error.description.contains("/nonexistent/tool could not be started"))
        }
    }

    /// Many children at once, each waited for asynchronously: none is lost, none left behind.
    @Test func manyConcurrentChildren() async throws {
        let env = self.env
        let codes = try await withThrowingTaskGroup(of: Int32?.self) { group in
            for i in 0..<24 {
                group.addTask {
                    let p = try ChildProcess.start("/bin/sh", arguments: ["-c", "sleep 0.1; exit \(i % 5)"], environment: env)
                    return await p.exit(timeout: 30)?.status
                }
            }
            var all: [Int32?] = []
            for try await c in group { all.append(c) }
            return all
        }
        #expect(codes.count == 24)
        #expect(codes.compactMap { $0 }.sorted() == (0..<24).map { Int32($0 % 5) }.sorted())
    }
}
