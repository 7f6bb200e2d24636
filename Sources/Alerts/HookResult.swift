/// How a hook run ended.
public struct HookResult: Sendable, Equatable {
    /// How the hook's process ended.
    public enum Outcome: Sendable, Equatable {
        /// It exited with this status (0: delivered).
        case exited(Int32)
        /// A signal (this number) killed it.
        case signalled(Int32)
        /// It ran past the timeout and was killed.
        case timedOut
        /// It could not be started, for this reason.
        case failedToStart(String)
    }
    /// How the process ended.
    public let outcome: Outcome
    /// The last few KiB of the hook's stdout and stderr (for the log; the rest is discarded).
    public let outputTail: String
    /// Seconds from start to exit.
    public let duration: Double

    /// Whether the hook accepted the delivery (exited 0).
    public var succeeded: Bool { outcome == .exited(0) }

    /// One line for the log and the outbox's last error.
    public var summary: String {
        switch outcome {
        case .exited(let code): return code == 0 ? "delivered" : "hook exited with status \(code)"
        case .signalled(let s): return "hook killed by signal \(s)"
        case .timedOut: return "hook did not finish within the timeout and was killed"
        case .failedToStart(let why): return "hook could not be started: \(why)"
        }
    }
}
