import AuditConfig
import Foundation

/// The limit a ``PacedClient`` paces by: the configured one until loaded, lowered by what was learned (in an
/// earlier run or this one). Calls of one client are sequential; the lock keeps it `Sendable`.
final class PacingState: @unchecked Sendable {
    private let lock = NSLock()
    private var limit: RateLimit
    private var isLoaded = false
    private var errors = 0

    init(configured: RateLimit) { limit = configured }

    /// The current limit once ``load(_:)`` ran, else nil.
    var loaded: RateLimit? { lock.withLock { isLoaded ? limit : nil } }

    /// Sets the limit found at the start of the run (first caller wins) and returns the one in force.
    func load(_ found: RateLimit) -> RateLimit {
        lock.withLock {
            if !isLoaded {
                limit = found
                isLoaded = true
            }
            return limit
        }
    }

    /// Lowers the limit (never raises it).
    func lower(to new: RateLimit) {
        lock.withLock {
            limit = RateLimit(max: min(limit.max, new.max), decayPerSecond: min(limit.decayPerSecond, new.decayPerSecond))
            isLoaded = true
        }
    }

    /// Rate-limit errors of this run.
    var rateLimitErrors: Int { lock.withLock { errors } }

    func countRateLimitError() { lock.withLock { errors += 1 } }
}
