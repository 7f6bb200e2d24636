import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a child process could not be started.
public enum ChildProcessError: Error, CustomStringConvertible, Equatable {
    case pipe(String)
    case spawn(executable: String, reason: String)
    case outputFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .pipe(let why): return "could not create a pipe: \(why)"
        case .spawn(let exe, let why): return "\(exe) could not be started: \(why)"
        case .outputFile(let path, let why): return "could not open \(path) for the child's output: \(why)"
        }
    }
}

/// A child process started with `posix_spawn` and watched with `waitpid`.
///
/// Foundation's `Process` is not used anywhere in kraken-audit: on Linux it detects a child's exit through a
/// socket the child inherits (grandchildren keep it open), its `waitUntilExit` spins a run loop that can miss the
/// exit when called off the main thread, and blocking waits park a thread of Swift's cooperative pool (two on a
/// 2-core machine), which starves every async server in the same process. Here:
/// - the child gets an empty signal mask and default dispositions (a parent that blocks SIGTERM for a signal
///   source would otherwise pass that on), optionally its own process group;
/// - stdin is fed and stdout/stderr are drained on dedicated threads, never the cooperative pool, into bounded
///   buffers (the last `limit` bytes are kept), so a child that writes forever or never reads cannot block us;
/// - every wait has a deadline: ``wait(timeout:)`` for synchronous callers, ``exit(timeout:)`` for async ones.
public final class ChildProcess: @unchecked Sendable {
    /// Where a stream of the child goes.
    public enum Output: Sendable {
        /// `/dev/null`.
        case discard
        /// The parent's own stream.
        case inherit
        /// A bounded in-memory buffer keeping the last `limit` bytes (read it with ``stdout`` / ``stderr``).
        case capture(limit: Int)
        /// Appended to a file (created 0600 if missing).
        case file(String)
        /// For stderr only: the same destination as stdout.
        case stdout
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// As a shell reports it: the exit code, or 128 + the signal number.
        public var status: Int32 {
            switch self {
            case .exited(let c): return c
            case .signalled(let s): return 128 + s
            }
        }

        public var description: String {
            switch self {
            case .exited(let c): return "exited with status \(c)"
            case .signalled(let s): return "killed by signal \(s)"
            }
        }
    }

    public let pid: pid_t
    public let executable: String
    private let group: Bool
    private let lock = NSLock()
    private var termination_: Termination?
    private let outBuffer: Bounded?
    private let errBuffer: Bounded?
    private let drained = DispatchGroup()

    /// Starts `executable` (an absolute path; use `/usr/bin/env` to search `PATH`) with exactly `environment`.
    public static func start(
        _ executable: String, arguments: [String] = [], environment: [String: String],
        stdin: Data? = nil, stdout: Output = .capture(limit: 1 << 20), stderr: Output = .stdout,
        processGroup: Bool = false
    ) throws(ChildProcessError) -> ChildProcess {
        spawnLock.lock()
        defer { spawnLock.unlock() }
        var closeInParent: [Int32] = []
        var closeOnFailure: [Int32] = []
        defer { for fd in closeInParent { close(fd) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        // stdin: a pipe fed by a thread, or /dev/null.
        var stdinWrite: Int32 = -1
        if stdin != nil {
            let p = try makePipe()
            posix_spawn_file_actions_adddup2(&actions, p.read, 0)
            closeInParent.append(p.read)
            stdinWrite = p.write
            closeOnFailure.append(p.write)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }

        func route(_ output: Output, to fd: Int32) throws(ChildProcessError) -> (Int32, Bounded)? {
            switch output {
            case .discard, .stdout:
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .inherit:
                break
            case .file(let path):
                let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                guard f >= 0 else { throw .outputFile(path: path, reason: String(cString: strerror(errno))) }
                posix_spawn_file_actions_adddup2(&actions, f, fd)
                closeInParent.append(f)
            case .capture(let limit):
                let p = try makePipe()
                posix_spawn_file_actions_adddup2(&actions, p.write, fd)
                closeInParent.append(p.write)
                closeOnFailure.append(p.read)
                return (p.read, Bounded(limit: limit))
            }
            return nil
        }
        let out = try route(stdout, to: 1)
        var err: (Int32, Bounded)? = nil
        if case .stdout = stderr {
            // File actions run in order: fd 1 already points where stdout goes.
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            err = try route(stderr, to: 2)
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if processGroup {
            posix_spawnattr_setpgroup(&attr, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attr, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard rc == 0 else {
            for fd in closeOnFailure { close(fd) }
            throw .spawn(executable: executable, reason: String(cString: strerror(rc)))
        }
        let child = ChildProcess(pid: pid, executable: executable, group: processGroup, out: out?.1, err: err?.1)
        if let out { child.drain(out.0, into: out.1) }
        if let err { child.drain(err.0, into: err.1) }
        if let stdin { Self.feed(stdin, to: stdinWrite) }
        return child
    }

    /// Runs a command to completion (killing it at the deadline) and returns how it ended with its output.
    /// For synchronous callers; async code uses ``start(_:arguments:environment:stdin:stdout:stderr:processGroup:)``
    /// and ``exit(timeout:)``.
    public static func run(
        _ executable: String, arguments: [String] = [], environment: [String: String], stdin: Data? = nil, timeout: Double
    ) throws(ChildProcessError) -> (termination: Termination?, output: String) {
        let child = try start(executable, arguments: arguments, environment: environment, stdin: stdin)
        let t = child.waitOrKill(timeout: timeout)
        // The exit can be seen before the drain thread has read the pipe's last bytes (seen under CPU load: the
        // output came back without its last lines): wait for end of file, bounded in case a grandchild holds it.
        child.waitForOutput(timeout: 5)
        return (t, child.stdoutText)
    }

    private init(pid: pid_t, executable: String, group: Bool, out: Bounded?, err: Bounded?) {
        self.pid = pid
        self.executable = executable
        self.group = group
        self.outBuffer = out
        self.errBuffer = err
    }

    deinit {
        // Never leave a zombie or an orphan behind.
        if termination_ == nil {
            kill(group ? -pid : pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        }
    }

    /// How the child ended, if it has (reaps it).
    public var termination: Termination? {
        lock.withLock {
            if let t = termination_ { return t }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                termination_ = Self.decode(status)
            } else if r < 0, errno == ECHILD {
                termination_ = .exited(-1)
            }
            return termination_
        }
    }

    public var isRunning: Bool { termination == nil }

    /// Sends `signal` to the child (to its whole group when it was started with its own).
    public func signal(_ signal: Int32) {
        guard termination == nil else { return }
        kill(group ? -pid : pid, signal)
    }

    /// Waits up to `timeout` seconds on the calling thread; nil if it is still running.
    public func wait(timeout: Double) -> Termination? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let t = termination { return t }
            if Date() >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Waits up to `timeout` seconds without holding a thread; nil if it is still running (or the task was
    /// cancelled).
    public func exit(timeout: Double) async -> Termination? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let t = termination { return t }
            if Date() >= deadline { return nil }
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return termination }
        }
    }

    /// Waits up to `timeout`; then SIGTERM, `grace` seconds, SIGKILL. Returns nil when it had to be stopped.
    public func waitOrKill(timeout: Double, grace: Double = 2) -> Termination? {
        if let t = wait(timeout: timeout) { return t }
        signal(SIGTERM)
        if wait(timeout: grace) == nil { signal(SIGKILL) }
        _ = wait(timeout: 30)
        return nil
    }

    /// The async form of ``waitOrKill(timeout:grace:)``.
    public func exitOrKill(timeout: Double, grace: Double = 2) async -> Termination? {
        if let t = await exit(timeout: timeout) { return t }
        signal(SIGTERM)
        if await exit(timeout: grace) == nil { signal(SIGKILL) }
        _ = await exit(timeout: 30)
        return nil
    }

    /// Waits (up to `timeout`) until the captured streams reached end of file: grandchildren that outlive
    /// the child may still hold them. Returns false if they did not.
    @discardableResult
    public func waitForOutput(timeout: Double) -> Bool {
        drained.wait(timeout: .now() + timeout) == .success
    }

    /// What the child wrote to stdout so far (the last `limit` bytes), with stderr too when merged.
    public var stdout: [UInt8] { outBuffer?.bytes ?? [] }
    public var stderr: [UInt8] { errBuffer?.bytes ?? [] }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Overwrites the captured bytes (for output that held a secret).
    public func wipeCapturedOutput() {
        outBuffer?.wipe()
        errBuffer?.wipe()
    }

    // MARK: plumbing

    private static func makePipe() throws(ChildProcessError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        // Close-on-exec before any other spawn can happen: `start` holds `spawnLock` from the first pipe to
        // posix_spawn, so a child started concurrently by another thread never inherits these (Glibc's
        // pipe2 is not visible to Swift).
        guard pipe(&fds) == 0 else { throw .pipe(String(cString: strerror(errno))) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private func drain(_ fd: Int32, into buffer: Bounded) {
        drained.enter()
        let thread = Thread { [drained] in
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                buffer.append(chunk[0..<n])
            }
            for i in chunk.indices { chunk[i] = 0 }
            close(fd)
            drained.leave()
        }
        thread.start()
    }

    private static func feed(_ data: Data, to fd: Int32) {
        let thread = Thread {
            data.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    // MSG_NOSIGNAL is for sockets; a closed pipe raises SIGPIPE, which the process ignores
                    // (set once below), and write returns EPIPE.
                    let n = write(fd, raw.baseAddress! + off, raw.count - off)
                    if n < 0, errno == EINTR { continue }
                    if n <= 0 { break }
                    off += n
                }
            }
            close(fd)
        }
        _ = ignoreSIGPIPE
        thread.start()
    }

    private static let ignoreSIGPIPE: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    static func decode(_ status: Int32) -> Termination {
        let sig = status & 0x7f
        if sig == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(sig)
    }
}

/// Serialises pipe creation and spawning (see `makePipe`).
private let spawnLock = NSLock()

/// Keeps the last `limit` bytes appended to it.
final class Bounded: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    func append(_ chunk: ArraySlice<UInt8>) {
        lock.withLock {
            buffer.append(contentsOf: chunk)
            if buffer.count > limit * 2 {
                let drop = buffer.count - limit
                for i in 0..<drop { buffer[i] = 0 }
                buffer.removeFirst(drop)
            }
        }
    }

    var bytes: [UInt8] { lock.withLock { Array(buffer.suffix(limit)) } }

    func wipe() {
        lock.withLock {
            for i in buffer.indices { buffer[i] = 0 }
            buffer.removeAll()
        }
    }
}
