import COpenSSL
import Foundation

/// Process-wide protections for executables that hold API secrets (kraken-audit, kraken-simulator).
public enum ProcessHardening {
    /// What ``disableCoreDumps()`` could not do (each is a warning: the process still works).
    public struct Failure: Error, CustomStringConvertible {
        public let step: String
        public let reason: String
        public var description: String { "\(step) failed: \(reason) (core dumps may still contain API secrets)" }
    }

    /// Disables core dumps for this process: `RLIMIT_CORE` 0 (soft and hard, so no child can raise it back)
    /// and `prctl(PR_SET_DUMPABLE, 0)`, which also stops core dumps piped to a handler such as
    /// systemd-coredump (those ignore `RLIMIT_CORE`) and makes `/proc/PID/mem`, `environ` and ptrace
    /// unavailable to other processes of the same user. A core dump would write the decoded HMAC key and
    /// OTP to disk. Call first thing in `main`. Returns the steps that failed (normally none).
    @discardableResult
    public static func disableCoreDumps() -> [Failure] {
        var failures: [Failure] = []
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(Int32(RLIMIT_CORE.rawValue), &none) != 0 {
            failures.append(Failure(step: "setrlimit(RLIMIT_CORE, 0)", reason: String(cString: strerror(errno))))
        }
        if kraken_audit_set_dumpable(0) != 0 {
            failures.append(Failure(step: "prctl(PR_SET_DUMPABLE, 0)", reason: String(cString: strerror(errno))))
        }
        return failures
    }

    /// Whether this process may dump core (`prctl(PR_GET_DUMPABLE)` is not 0).
    public static var isDumpable: Bool { kraken_audit_get_dumpable() != 0 }
}
