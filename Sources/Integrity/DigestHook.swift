import ChildProcesses
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `[integrity] hook` for a new digest file, e.g. a script copying it to write-once storage (S3 Object Lock,
/// a WORM share) that the database host cannot rewrite.
///
/// The hook gets the digest file's path as its only argument, stdin from /dev/null, its own process group, a hard
/// timeout (SIGTERM to the group, SIGKILL 2 s later) and a minimal environment: `PATH`, `LANG`, `HOME` (copy tools
/// such as `aws` and `rclone` read their configuration there) and the `DIGEST_*` variables kraken-audit was given
/// (the hook's own settings). Nothing else passes, so no `*_env` secret of kraken-audit reaches it, as for
/// `[alerts] hook`.
public struct DigestHook: Sendable {
    /// The hook's path (absolute).
    public var executable: String
    /// Seconds the hook may run.
    public var timeout: Double
    /// kraken-audit's own environment, filtered by ``hookEnvironment``.
    public var environment: [String: String]

    /// How much of the hook's output is kept for messages.
    static let outputLimit = 4096

    /// A hook run by `executable`, killed after `timeout` seconds.
    public init(executable: String, timeout: Double = 60, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.executable = executable
        self.timeout = timeout
        self.environment = environment
    }

    /// The environment the hook gets.
    public var hookEnvironment: [String: String] {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        if let home = environment["HOME"] { env["HOME"] = home }
        for (k, v) in environment where k.hasPrefix("DIGEST_") { env[k] = v }
        return env
    }

    /// Runs the hook for `digestFile`; returns its output (stdout and stderr, the last 4 KiB) when it exits 0.
    /// Throws ``IntegrityError/hookNotExecutable(path:)``, ``IntegrityError/hookFailed(hook:digestFile:reason:)`` or
    /// ``IntegrityError/hookTimedOut(hook:digestFile:seconds:)``.
    @discardableResult
    public func run(digestFile: String, logger: Logger) throws(IntegrityError) -> String {
        var st = stat()
        guard executable.hasPrefix("/"), stat(executable, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(executable, X_OK) == 0 else {
            throw .hookNotExecutable(path: executable)
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.start(
                executable, arguments: [digestFile], environment: hookEnvironment, stdout: .capture(limit: Self.outputLimit),
                processGroup: true)
        } catch {
            throw .hookFailed(hook: executable, digestFile: digestFile, reason: error.description)
        }
        let termination = child.waitOrKill(timeout: timeout, grace: 2)
        // A grandchild left running still holds the output pipe: give it a moment, then end the whole group.
        if !child.waitForOutput(timeout: 0.5) {
            kill(-child.pid, SIGKILL)
            child.waitForOutput(timeout: 2)
        }
        let output = child.stdoutText
        guard let termination else {
            logger.error("digest hook timed out", metadata: ["hook": "\(executable)", "digest_file": "\(digestFile)"])
            throw .hookTimedOut(hook: executable, digestFile: digestFile, seconds: timeout)
        }
        guard termination == .exited(0) else {
            let last = output.split(whereSeparator: \.isNewline).last.map { ": \($0.prefix(200))" } ?? ""
            logger.error(
                "digest hook failed", metadata: ["hook": "\(executable)", "digest_file": "\(digestFile)", "status": "\(termination)"])
            throw .hookFailed(hook: executable, digestFile: digestFile, reason: "\(termination)\(last)")
        }
        logger.info("digest hook done", metadata: ["hook": "\(executable)", "digest_file": "\(digestFile)"])
        return output
    }
}
