/// Something that runs a block of blocking database work on a connection, off Swift's cooperative pool: one
/// ``PGConnection`` (its own serial queue) or a ``PGPool`` (any free connection of a bounded set).
///
/// Code written against this seam must not rely on session state surviving between two `run` calls (advisory
/// locks, temporary tables, `SET`): with a pool, the next call may get another connection. Per-connection setup
/// belongs in the pool's `prepare` block.
public protocol PGRunner: Sendable {
    func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T
}

extension PGConnection: PGRunner {}
