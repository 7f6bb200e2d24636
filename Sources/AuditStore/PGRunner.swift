/// Something that runs a block of blocking database work on a connection, off Swift's cooperative pool: one
/// ``PGConnection`` (its own serial queue) or a ``PGPool`` (any free connection of a bounded set).
///
/// Code written against this seam must not rely on session state surviving between two `run` calls (advisory
/// locks, temporary tables, `SET`): with a pool, the next call may get another connection. Per-connection setup
/// belongs in the pool's `prepare` block.
public protocol PGRunner: Sendable {
    func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T

    /// Like ``run(_:)``, and hands `body` a second connection when one is free at once, for work alongside the
    /// first one's (nil otherwise, never waited for: the caller then does that work on the first connection).
    /// `body` must be done with the spare, and have left it outside any transaction, when it returns.
    func runWithSpare<T: Sendable>(_ body: @escaping @Sendable (PGConnection, PGConnection?) throws -> T) async throws -> T
}

extension PGRunner {
    /// No spare: one connection, or a runner that does not share its connections.
    public func runWithSpare<T: Sendable>(_ body: @escaping @Sendable (PGConnection, PGConnection?) throws -> T) async throws -> T {
        try await run { try body($0, nil) }
    }
}

extension PGConnection: PGRunner {}
