import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a hook run ended.
public struct HookResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case failedToStart(String)
    }
    public let outcome: Outcome
    /// The last few KiB of the hook's stdout and stderr (for the log; the rest is discarded).
    public let outputTail: String
    public let duration: Double

    public var succeeded: Bool { outcome == .exited(0) }

    public var summary: String {
        switch outcome {
        case .exited(let code): return code == 0 ? "delivered" : "hook exited with status \(code)"
        case .signalled(let s): return "hook killed by signal \(s)"
        case .timedOut: return "hook did not finish within the timeout and was killed"
        case .failedToStart(let why): return "hook could not be started: \(why)"
        }
    }
}

/// Runs an alert hook: JSON on stdin, a minimal environment, its own process group, a hard timeout
/// (SIGTERM to the group, SIGKILL after a grace period), bounded output capture, no zombies.
///
/// The child is started with `posix_spawn` and an empty signal mask (Foundation's `Process` would pass on the
/// parent's blocked signals, so SIGTERM could be ignored; see ../shared/swift-build-notes.md).
public enum HookRunner {
    static let outputLimit = 8192

    public static func run(executable: String, stdin payload: Data, environment: [String: String], timeout: Double, grace: Double = 2) -> HookResult {
        let started = Date()
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        guard makePipe(&inPipe) else { return HookResult(outcome: .failedToStart("pipe: \(String(cString: strerror(errno)))"), outputTail: "", duration: 0) }
        guard makePipe(&outPipe) else {
            close(inPipe[0]); close(inPipe[1])
            return HookResult(outcome: .failedToStart("pipe: \(String(cString: strerror(errno)))"), outputTail: "", duration: 0)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)

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
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        close(inPipe[0])
        close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            return HookResult(outcome: .failedToStart("\(executable): \(String(cString: strerror(rc)))"), outputTail: "", duration: 0)
        }

        let stdinFD = inPipe[1]
        // Feed stdin and drain output on their own threads; a hook that never reads or writes forever cannot block us.
        let writer = Thread {
            signal(SIGPIPE, SIG_IGN)
            payload.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = write(stdinFD, raw.baseAddress! + off, raw.count - off)
                    if n <= 0 { if errno == EINTR { continue }; break }
                    off += n
                }
            }
            close(stdinFD)
        }
        writer.start()
        let tail = TailBuffer(limit: outputLimit)
        let readerDone = DispatchSemaphore(value: 0)
        let readFD = outPipe[0]
        let reader = Thread {
            var buf = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = read(readFD, &buf, buf.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                tail.append(buf[0..<n])
            }
            close(readFD)
            readerDone.signal()
        }
        reader.start()

        var status: Int32 = 0
        var outcome: HookResult.Outcome? = nil
        let deadline = Date().addingTimeInterval(timeout)
        while outcome == nil {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                outcome = exitOutcome(status)
            } else if r < 0, errno != EINTR {
                outcome = .exited(-1)
            } else if Date() >= deadline {
                kill(-pid, SIGTERM)
                let graceEnd = Date().addingTimeInterval(grace)
                while waitpid(pid, &status, WNOHANG) == 0, Date() < graceEnd { usleep(20_000) }
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)  // reap: no zombies
                outcome = .timedOut
            } else {
                usleep(10_000)
            }
        }
        // Grandchildren that outlive the hook (forked and left running) still hold the output pipe: give them a
        // moment to finish writing, then end the whole group so nothing lingers.
        if readerDone.wait(timeout: .now() + 0.5) == .timedOut {
            kill(-pid, SIGKILL)
            _ = readerDone.wait(timeout: .now() + 2)
        }
        return HookResult(outcome: outcome ?? .exited(-1), outputTail: tail.text, duration: Date().timeIntervalSince(started))
    }

    /// A pipe whose ends are closed on exec (the child gets only the dup2'ed copies).
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    static func exitOutcome(_ status: Int32) -> HookResult.Outcome {
        let sig = status & 0x7f
        if sig == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(sig)
    }
}

/// Keeps the last `limit` bytes written to it.
final class TailBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func append(_ chunk: ArraySlice<UInt8>) {
        lock.withLock {
            bytes.append(contentsOf: chunk)
            if bytes.count > limit * 2 { bytes.removeFirst(bytes.count - limit) }
        }
    }

    var text: String {
        lock.withLock { String(decoding: bytes.suffix(limit), as: UTF8.self) }
    }
}
