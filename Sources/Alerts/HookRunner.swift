import ChildProcesses
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs an alert hook: JSON on stdin, a minimal environment, its own process group, a hard timeout
/// (SIGTERM to the group, SIGKILL after a grace period), bounded output capture, no zombies.
///
/// The child is a ``ChildProcess`` (posix_spawn, empty signal mask: Foundation's `Process` would pass on the
/// parent's blocked signals, so SIGTERM could be ignored; see ../shared/swift-build-notes.md).
public enum HookRunner {
    static let outputLimit = 8192

    /// Runs `executable` with `payload` on stdin and exactly `environment`; after `timeout` seconds SIGTERM goes to
    /// its process group and SIGKILL `grace` seconds later. Never throws: every way it ends is a ``HookResult``.
    public static func run(executable: String, stdin payload: Data, environment: [String: String], timeout: Double, grace: Double = 2)
        -> HookResult
    {
        let started = Date()
        let child: ChildProcess
        do {
            child = try ChildProcess.start(
                executable, environment: environment, stdin: payload, stdout: .capture(limit: outputLimit), processGroup: true)
        } catch {
            return HookResult(outcome: .failedToStart(error.description), outputTail: "", duration: 0)
        }
        let outcome: HookResult.Outcome
        switch child.waitOrKill(timeout: timeout, grace: grace) {
        case .exited(let code)?: outcome = .exited(code)
        case .signalled(let s)?: outcome = .signalled(s)
        case nil: outcome = .timedOut
        }
        // Grandchildren that outlive the hook (forked and left running) still hold the output pipe: give them a
        // moment to finish writing, then end the whole group so nothing lingers.
        if !child.waitForOutput(timeout: 0.5) {
            kill(-child.pid, SIGKILL)
            child.waitForOutput(timeout: 2)
        }
        return HookResult(outcome: outcome, outputTail: child.stdoutText, duration: Date().timeIntervalSince(started))
    }
}
