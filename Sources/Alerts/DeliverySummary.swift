/// What one delivery pass did.
public struct DeliverySummary: Sendable, Equatable {
    /// Outbox rows the hook accepted (exit 0) in this pass.
    public var delivered = 0
    /// Outbox rows whose hook call failed in this pass (retried later with backoff).
    public var failed = 0
    /// Outbox rows still waiting (for a later attempt).
    public var pending = 0
    /// Hook calls made.
    public var calls = 0
    /// Another delivery held the lock; nothing was done.
    public var skippedLocked = false
}
